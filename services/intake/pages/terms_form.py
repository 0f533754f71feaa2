"""The contact-terms form on a referral page <-> the API's ConsentChange / NewContactTerms.

Pure: no HTTP, no database. The fields are named as on the referral form
(survivor_channel, survivor_from, …) and validated by the API's own models, so
the page can never accept terms the API would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from services.intake.pages.referral_form import Fields, consent_until, one
from services.intake.schemas import ConsentChange, NewContactTerms

ACTIONS = ("grant", "change")


@dataclass
class TermsResult:
    """What to run (a grant with terms, or new terms), or the problems in plain words."""

    grant: ConsentChange | None = None
    terms: NewContactTerms | None = None
    problems: list[str] | None = None


def _terms(fields: Fields) -> dict[str, Any]:
    contact = {key: one(fields, f"contact_{key}") or None for key in ("phone", "email")}
    return {
        "channel": one(fields, "survivor_channel") or None,
        "language": one(fields, "survivor_language") or None,
        "voicemail_safe": "voicemail_safe" in fields,
        "hours": {"start": one(fields, "survivor_from") or "09:00",
                  "end": one(fields, "survivor_to") or "17:00",
                  "timezone": one(fields, "survivor_timezone") or "Europe/Amsterdam"},
        "contact": contact if any(contact.values()) else None,
    }


def to_change(fields: Fields, *, now: datetime | None = None) -> TermsResult:
    """`grant` (consent given again, with terms and an end date) or `change` (terms only)."""
    today = (now or datetime.now(UTC)).date()
    try:
        if one(fields, "action") == "grant":
            return TermsResult(grant=ConsentChange.model_validate({
                "scope": "contact_survivor", "granted": True,
                "expires_at": consent_until(fields, today), "terms": _terms(fields)}))
        return TermsResult(terms=NewContactTerms.model_validate(_terms(fields)))
    except ValidationError as invalid:
        return TermsResult(problems=[_plain(item) for item in invalid.errors()])


def _plain(item: Any) -> str:
    """One problem, naming the field the way the form does, never echoing the value."""
    path = ".".join(str(part) for part in item["loc"] if not isinstance(part, int))
    label = {"channel": "Channel", "hours": "Safe hours", "language": "Language",
             "contact": "Phone or e-mail"}
    name = next((text for key, text in label.items()
                 if path.removeprefix("terms.").startswith(key)), "The form")
    return f"{name}: {str(item['msg']).removeprefix('Value error, ')}"
