"""Templates: every message in every language renders, and no template can leak what it must not."""

from __future__ import annotations

import itertools
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from services.notifier.model import LANGUAGES
from services.notifier.rendering import TEMPLATES, Renderer, check_templates
from shared.events import PlannedNotification

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
STAFF = {"organization": "CANARY-ORG", "expires_at": "2026-11-25T14:00:00+00:00",
         "link": "https://haven.example/offers/1", "urgency": "tonight",
         "needs": "emergency_shelter", "reason": "no_match",
         "confirmed_at": "2026-11-23T09:00:00+00:00", "reference": "R-0000-0001"}
TEMPLATE_NAMES = sorted({p.stem for p in TEMPLATES.glob("*/*.j2")})


def planned(template: str, *, language: str, channel: str = "email",
            fields: dict[str, str] | None = None) -> PlannedNotification:
    audience = "survivor" if template.startswith("survivor_") else "provider"
    return PlannedNotification(
        notification_id="ntf-test-0001", cause_id="c", referral_id=uuid.UUID(int=1),
        audience=audience, recipient="r", channel=channel,
        template=template, language=language, fields=fields if fields is not None else STAFF,
        not_before=NOW)


def test_the_shipped_templates_pass_the_check() -> None:
    assert check_templates() == []


def test_every_language_has_every_template() -> None:
    for language in LANGUAGES:
        assert sorted(p.stem for p in (TEMPLATES / language).glob("*.j2")) == TEMPLATE_NAMES


@pytest.mark.parametrize(("template", "language"),
                         list(itertools.product(TEMPLATE_NAMES, LANGUAGES)))
def test_every_template_renders_in_every_language(template: str, language: str) -> None:
    survivor = template.startswith("survivor_")
    for channel in ("sms", "email") if survivor else ("email", "inbox", "webhook"):
        rendered = Renderer().render(planned(template, language=language, channel=channel,
                                             fields={} if survivor else STAFF))
        assert rendered.text and "{{" not in rendered.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_survivor_words_name_nobody_unless_allowed(language: str) -> None:
    # Staff fields slipped into a survivor notification are not rendered: only allowed names.
    leaky = {**STAFF, "sender": "CANARY-COVER", "phone": "CANARY-PHONE"}
    rendered = Renderer().render(planned("survivor_update", language=language, channel="sms",
                                         fields={k: v for k, v in leaky.items()
                                                 if k != "organization"}))
    assert "CANARY-COVER" in rendered.text  # the cover story they chose is used
    for value in ("CANARY-PHONE", "CANARY-ORG", "tonight", "emergency_shelter", "haven"):
        assert value not in rendered.text.lower() and value not in rendered.subject.lower()
    for word in ("shelter", "refugio", "opvang", "traffick", "haven"):
        assert word not in rendered.text.lower()
    named = Renderer().render(planned("survivor_update", language=language, channel="sms",
                                      fields={"organization": "CANARY-ORG"}))
    assert "CANARY-ORG" in named.text  # only because the policy put it there (consent allowed)


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES, folder)
    return folder


def test_a_template_that_reaches_for_a_personal_field_fails_the_check(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "nl" / "survivor_update.j2"
    path.write_text(path.read_text().replace("Er is nieuws", "{{ phone }} Er is nieuws"))
    assert check_templates(folder) == ["nl/survivor_update.j2: uses the personal field 'phone'"]


def test_a_survivor_template_using_a_staff_field_fails_the_check(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "es" / "survivor_update.j2"
    path.write_text(path.read_text().replace("Hay novedades", "{{ link }} Hay novedades"))
    assert check_templates(folder) == [
        "es/survivor_update.j2: uses 'link', not allowed for survivor messages"]


def test_a_field_the_consent_did_not_allow_is_an_error_not_a_blank(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "en" / "survivor_update.j2"
    # An edit that names the organization without asking whether the consent allowed it.
    path.write_text(path.read_text().replace("There is an update", "{{ organization }}: update"))
    assert check_templates(folder) == []  # a permitted name, but only when consent gave it
    with pytest.raises(UndefinedError):
        Renderer(folder).render(planned("survivor_update", language="en", channel="email",
                                        fields={}))
