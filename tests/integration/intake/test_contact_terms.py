"""Contact consent granted again, renewed, or its terms changed: validated, recorded, announced.

The terms travel in a sealed ContactTermsSet; the new address is never stored or
published in the clear, and a grant without usable terms is refused in plain words.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from sqlmodel import Session, col, select

from services.intake import consent_terms, terms_store
from services.intake.models import ConsentRecord, OutboxMessage, Referral
from tests.support.intake import Intake, referral_body

NEW_EMAIL = "canary.regrant.7f3a@example.invalid"
NEW_PHONE = "+00 555 010 9999"
UNTIL = "2099-06-01T00:00:00Z"
HOURS = {"start": "08:00", "end": "20:00", "timezone": "Europe/Amsterdam"}


def _submit(intake: Intake) -> str:
    answer = intake.client.post("/api/v1/referrals", json=referral_body(),
                                headers=intake.members["outreach"].headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _consent(intake: Intake, referral: str, body: dict[str, Any]) -> Any:
    return intake.client.post(f"/api/v1/referrals/{referral}/consent", json=body,
                              headers=intake.members["outreach"].headers)


def _put_terms(intake: Intake, referral: str, body: dict[str, Any]) -> Any:
    return intake.client.put(f"/api/v1/referrals/{referral}/contact-terms", json=body,
                             headers=intake.members["outreach"].headers)


def _withdraw(intake: Intake, referral: str) -> None:
    answer = _consent(intake, referral, {"scope": "contact_survivor", "granted": False})
    assert answer.status_code == 204, answer.text


def _grant(terms: dict[str, Any] | None = None, until: str = UNTIL) -> dict[str, Any]:
    body: dict[str, Any] = {"scope": "contact_survivor", "granted": True, "expires_at": until}
    return body | ({"terms": terms} if terms is not None else {})


def _engine(intake: Intake) -> Any:
    return intake.client.app.state.engine  # type: ignore[attr-defined]


def _events(intake: Intake, referral: str) -> list[str]:
    with Session(_engine(intake)) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.key == referral.encode())
                            .order_by(col(OutboxMessage.id))).all()
    return [base64.b64decode(dict(row.headers)["ce_type"]).decode() for row in rows]


def _kept_terms(intake: Intake, referral: str) -> Any:
    with Session(_engine(intake)) as session:
        row = session.get(Referral, uuid.UUID(referral))
        assert row is not None
        return terms_store.on_record(session, intake.client.app.state.ports.vault,  # type: ignore[attr-defined]
                                     row)


def _stored_bytes(intake: Intake, referral: str) -> list[bytes]:
    """Everything intake stored about the referral: its row, consent records, outbox."""
    with Session(_engine(intake)) as session:
        row = session.get(Referral, uuid.UUID(referral))
        records = session.exec(select(ConsentRecord).where(
            ConsentRecord.referral_id == uuid.UUID(referral))).all()
        outbox = [m for m in session.exec(select(OutboxMessage)).all()
                  if m.key.startswith(referral.encode())]
    assert row is not None
    return ([row.sealed_profile, row.sealed_contact or b"", row.sealed_contact_terms or b""]
            + [r.sealed_terms or b"" for r in records]
            + [m.value + repr(m.headers).encode() for m in outbox])


def test_a_grant_after_withdrawal_without_terms_is_refused_with_what_to_give(
        intake: Intake) -> None:
    referral = _submit(intake)
    _withdraw(intake, referral)
    before = _events(intake, referral)
    answer = _consent(intake, referral, _grant())
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "terms"
    assert "channel" in answer.json()["detail"] and "hours" in answer.json()["detail"]
    assert _events(intake, referral) == before  # nothing recorded, nothing announced
    assert _kept_terms(intake, referral) is None  # withdrawal forgot the terms


def test_a_grant_with_new_terms_is_announced_sealed_and_kept_sealed(intake: Intake) -> None:
    referral = _submit(intake)
    _withdraw(intake, referral)
    answer = _consent(intake, referral, _grant({
        "channel": "email", "hours": HOURS, "language": "nl", "cover_story": "Your gym",
        "contact": {"email": NEW_EMAIL}}))
    assert answer.status_code == 204, answer.text
    assert _events(intake, referral)[-2:] == ["org.haven.consent.changed.v1",
                                              "org.haven.consent.contact_terms_set.v1"]
    kept = _kept_terms(intake, referral)
    assert (kept.channel, kept.address, kept.language) == ("email", NEW_EMAIL, "nl")
    assert all(NEW_EMAIL.encode() not in blob for blob in _stored_bytes(intake, referral))
    detail = intake.client.get(f"/api/v1/referrals/{referral}",
                               headers=intake.members["outreach"].headers).json()
    assert detail["consents"]["contact_survivor"] is True
    assert [i["kind"] for i in detail["timeline"]][-2:] == ["consent:withdrawn",
                                                           "consent:granted"]


def test_terms_without_an_address_use_the_contact_on_record_for_the_channel(
        intake: Intake) -> None:
    referral = _submit(intake)  # the sample contact has a phone, no e-mail
    _withdraw(intake, referral)
    assert _consent(intake, referral, _grant({"channel": "sms", "hours": HOURS})
                    ).status_code == 204
    assert _kept_terms(intake, referral).address == "+00 000 000 0000"
    _withdraw(intake, referral)
    answer = _consent(intake, referral, _grant({"channel": "email", "hours": HOURS}))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "terms.contact.email"


def test_a_renewal_keeps_the_terms_on_record_and_announces_them_again(intake: Intake) -> None:
    referral = _submit(intake)
    answer = _consent(intake, referral, _grant(until="2099-12-31T00:00:00Z"))
    assert answer.status_code == 204, answer.text
    assert _events(intake, referral)[-1] == "org.haven.consent.contact_terms_set.v1"
    assert _kept_terms(intake, referral).address == "+00 000 000 0000"
    with Session(_engine(intake)) as session:
        current = session.exec(select(ConsentRecord).where(
            ConsentRecord.referral_id == uuid.UUID(referral),
            ConsentRecord.scope == "contact_survivor",
            col(ConsentRecord.revoked_at).is_(None))).one()
        terms = consent_terms.opened(session, intake.client.app.state.ports.vault,  # type: ignore[attr-defined]
                                     current)
    assert current.expires_at is not None and current.expires_at.year == 2099
    assert current.expires_at.month == 12 and terms is not None and terms["channel"] == "sms"
    assert "address" not in terms


def test_terms_change_while_consent_stays_granted(intake: Intake) -> None:
    referral = _submit(intake)
    answer = _put_terms(intake, referral, {"channel": "sms", "hours": HOURS,
                                           "contact": {"phone": NEW_PHONE}})
    assert answer.status_code == 204, answer.text
    assert _events(intake, referral)[-1] == "org.haven.consent.contact_terms_set.v1"
    assert _kept_terms(intake, referral).address == NEW_PHONE
    assert all(NEW_PHONE.encode() not in blob for blob in _stored_bytes(intake, referral))
    detail = intake.client.get(f"/api/v1/referrals/{referral}",
                               headers=intake.members["outreach"].headers).json()
    assert detail["timeline"][-1]["kind"] == "consent:terms_changed"
    assert detail["consents"]["contact_survivor"] is True


def test_terms_change_without_contact_consent_is_a_conflict_that_says_what_to_do(
        intake: Intake) -> None:
    referral = _submit(intake)
    _withdraw(intake, referral)
    answer = _put_terms(intake, referral, {"channel": "sms", "hours": HOURS})
    assert answer.status_code == 409
    assert f"/api/v1/referrals/{referral}/consent" in answer.json()["detail"]


def test_another_organizations_referral_is_not_found(intake: Intake) -> None:
    referral = _submit(intake)
    answer = intake.client.put(f"/api/v1/referrals/{referral}/contact-terms",
                               json={"channel": "sms", "hours": HOURS},
                               headers=intake.members["other_outreach"].headers)
    assert answer.status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    (_grant({"channel": "pigeon", "hours": HOURS}), "terms.channel"),
    (_grant({"channel": "sms", "hours": {**HOURS, "timezone": "Mars/Base"}}),
     "terms.hours.timezone"),
    (_grant({"channel": "sms", "hours": {**HOURS, "start": "25:99"}}), "terms.hours.start"),
    (_grant({"channel": "sms", "hours": HOURS, "contact": {"phone": "call me maybe"}}),
     "terms.contact.phone"),
    (_grant({"channel": "email", "hours": HOURS, "contact": {"email": "not-an-address"}}),
     "terms.contact.email"),
    (_grant({"channel": "sms", "hours": HOURS, "language": "Spanish"}), "terms.language"),
    (_grant({"channel": "sms", "hours": HOURS, "surprise": True}), "terms.(unknown field 3)"),
    (_grant({"channel": "sms"}), "terms"),
    (_grant({"channel": "sms", "hours": HOURS}, until="2001-01-01T00:00:00Z"),
     "consent.contact_survivor.expires_at"),
    ({"scope": "share_profile", "granted": True, "expires_at": UNTIL,
      "terms": {"channel": "sms", "hours": HOURS}}, "(request)"),
    ({"scope": "contact_survivor", "granted": False,
      "terms": {"channel": "sms", "hours": HOURS}}, "(request)"),
])
def test_bad_terms_answer_422_naming_the_field_never_echoing_the_value(
        intake: Intake, body: dict[str, Any], field: str) -> None:
    referral = _submit(intake)
    _withdraw(intake, referral)
    answer = _consent(intake, referral, body)
    assert answer.status_code == 422, answer.text
    assert field in [error["field"] for error in answer.json()["errors"]], answer.text
    for secret in ("call me maybe", "not-an-address", "Mars/Base"):
        assert secret not in answer.text
