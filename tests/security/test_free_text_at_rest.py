"""Defect 6: no free-text or personal field the API accepts is kept in the clear at rest.

Canary values go into every such field (contact details, the cover story, the
address given with new contact terms, preferences, regions, the Idempotency-Key);
the raw database (the SQLite file and its write-ahead log, or a `pg_dump` of the
PostgreSQL database) is scanned after submission, after each consent change and
after erasure. After erasure the consent records hold nothing sealed any more.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from services.intake.models import ConsentRecord
from tests.support.canary import Canaries
from tests.support.intake import Intake, referral_body

UNTIL = "2099-06-01T00:00:00Z"
HOURS = {"start": "09:00", "end": "17:00", "timezone": "Europe/Amsterdam"}


def _database_bytes(intake: Intake) -> bytes:
    """The database as it lies at rest: SQLite's files, or everything pg_dump writes out."""
    engine = intake.client.app.state.engine  # type: ignore[attr-defined]
    url = engine.url
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database))
        return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))
    dump = subprocess.run(
        ["pg_dump", "--data-only", "--no-owner", "-h", str(url.host), "-p", str(url.port),
         "-U", str(url.username), str(url.database)],
        capture_output=True, check=True, env={"PGPASSWORD": url.password or "", "PATH":
                                              "/usr/bin:/bin"})
    assert b"COPY public.consentrecord" in dump.stdout, "the dump must hold the tables"
    return dump.stdout


def _needles(values: list[str]) -> list[bytes]:
    return [v.encode() for v in values] + [v.replace(" ", "").encode() for v in values]


def _leaks(intake: Intake, values: list[str]) -> list[str]:
    blob = _database_bytes(intake)
    return [needle.decode() for needle in _needles(values) if needle in blob]


def _call(intake: Intake, method: str, path: str, **kwargs: Any) -> Any:
    headers = {**intake.members["outreach"].headers, **kwargs.pop("headers", {})}
    return intake.client.request(method, path, headers=headers, **kwargs)


def test_no_canary_is_at_rest_in_the_clear_after_submit_consent_changes_and_erasure(
        intake: Intake) -> None:
    first, second, third = Canaries.fresh(), Canaries.fresh(), Canaries.fresh()
    tag = uuid.uuid4().hex[:8]
    story = f"CANARY-STORY-{tag}"
    later_story, last_story = f"CANARY-STORY2-{tag}", f"CANARY-STORY3-{tag}"
    preference, region = f"CANARY-PREF-{tag}", f"CANARY-REGION-{tag}"
    avoid, idempotency = f"CANARY-AVOID-{tag}", f"CANARY-IDEMPOTENCY-{tag}"
    body = referral_body(
        contact={"name": first.name, "phone": first.phone, "email": first.email},
        preferences=[preference],
        location={"region": region, "avoid_regions": [avoid]})
    body["consent"]["contact_survivor"]["cover_story"] = story  # type: ignore[index]
    answer = _call(intake, "POST", "/api/v1/referrals", json=body,
                   headers={"Idempotency-Key": idempotency})
    assert answer.status_code == 201, answer.text
    referral = answer.json()["id"]
    typed = [first.name, first.phone, first.email, story, preference, region, avoid,
             idempotency]
    assert _leaks(intake, typed) == [], "after submission"

    withdrawn = _call(intake, "POST", f"/api/v1/referrals/{referral}/consent",
                      json={"scope": "contact_survivor", "granted": False})
    assert withdrawn.status_code == 204, withdrawn.text
    granted = _call(intake, "POST", f"/api/v1/referrals/{referral}/consent", json={
        "scope": "contact_survivor", "granted": True, "expires_at": UNTIL,
        "terms": {"channel": "email", "hours": HOURS, "cover_story": later_story,
                  "contact": {"email": second.email}}})
    assert granted.status_code == 204, granted.text
    changed = _call(intake, "PUT", f"/api/v1/referrals/{referral}/contact-terms", json={
        "channel": "sms", "hours": HOURS, "cover_story": last_story,
        "contact": {"phone": third.phone}})
    assert changed.status_code == 204, changed.text
    typed += [second.email, later_story, third.phone, last_story]
    assert _leaks(intake, typed) == [], "after the consent changes"

    erased = _call(intake, "POST", f"/api/v1/referrals/{referral}/erase")
    assert erased.status_code == 204, erased.text
    assert _leaks(intake, typed) == [], "after erasure"
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        records = session.exec(select(ConsentRecord).where(
            ConsentRecord.referral_id == uuid.UUID(referral))).all()
    assert len(records) >= 5
    assert all(record.sealed_terms is None for record in records), \
        "erasure destroys the sealed terms of every consent record"
