"""On a referral's page the worker records, with the person, consent to be contacted again
with its terms, or new terms while it stands; through the same use cases as the API."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, select

from services.intake import consent_terms
from services.intake.models import ConsentRecord, OutboxMessage
from shared import topics
from tests.support.intake import Intake
from tests.support.pages import browser, engine, submit

NEW_PHONE = "+00 999 888 777"
TERMS = {"survivor_channel": "sms", "survivor_from": "10:00", "survivor_to": "18:00",
         "survivor_timezone": "Europe/Amsterdam", "survivor_language": "nl"}


def _terms_events(intake: Intake, referral: str) -> int:
    with Session(engine(intake)) as session:
        return len([m for m in session.exec(select(OutboxMessage).where(
            OutboxMessage.topic == topics.CONTACT_TERMS.name)).all()
            if m.key == referral.encode()])


def _contact_consent(intake: Intake, referral: str) -> tuple[ConsentRecord, dict[str, Any]]:
    """The contact consent in force and its terms, opened from their sealed form."""
    with Session(engine(intake)) as session:
        record = session.exec(select(ConsentRecord).where(
            ConsentRecord.referral_id == uuid.UUID(referral),
            ConsentRecord.scope == "contact_survivor",
            ConsentRecord.revoked_at == None)).one()  # noqa: E711
        terms = consent_terms.opened(session, intake.client.app.state.ports.vault,  # type: ignore[attr-defined]
                                     record)
    assert terms is not None
    return record, terms


def test_consent_to_be_contacted_is_given_with_terms_then_the_terms_change(
        intake: Intake) -> None:
    client, csrf = browser(intake, "outreach")
    referral = submit(client, csrf)  # the person did not agree to messages at first
    url = f"/outreach/referrals/{referral}/contact-terms"
    page = client.get(f"/outreach/referrals/{referral}").text
    assert "The person agrees to get messages again" in page
    assert 'name="action" value="grant"' in page and 'for="terms_channel"' in page

    assert client.post(url, data={"action": "grant", **TERMS}).status_code == 403  # no CSRF
    no_email = client.post(url, data={"csrf": csrf, "action": "grant", **TERMS,
                                      "survivor_channel": "email"})
    assert no_email.status_code == 422 and "email" in no_email.text
    bad_zone = client.post(url, data={"csrf": csrf, "action": "grant", **TERMS,
                                      "survivor_timezone": "Nowhere/Zone-42"})
    assert bad_zone.status_code == 422 and "Safe hours" in bad_zone.text
    assert "Nowhere/Zone-42" not in bad_zone.text
    assert _terms_events(intake, referral) == 0

    granted = client.post(url, follow_redirects=False,
                          data={"csrf": csrf, "action": "grant", **TERMS})
    assert granted.status_code == 303, granted.text
    record, terms = _contact_consent(intake, referral)
    assert record.granted and terms["channel"] == "sms"
    assert _terms_events(intake, referral) == 1
    page = client.get(f"/outreach/referrals/{referral}").text
    assert "Change how and when the person gets messages" in page
    assert 'name="action" value="change"' in page

    changed = client.post(url, follow_redirects=False, data={
        "csrf": csrf, "action": "change", **TERMS, "contact_phone": NEW_PHONE,
        "survivor_from": "07:00"})
    assert changed.status_code == 303, changed.text
    assert _contact_consent(intake, referral)[1]["hours_start"] == "07:00:00"
    assert _terms_events(intake, referral) == 2
    assert NEW_PHONE not in client.get(f"/outreach/referrals/{referral}").text.split(
        "<details class=\"private\">")[0]  # personal details only behind the closed details


def test_a_bad_action_or_another_organizations_referral_is_refused(intake: Intake) -> None:
    client, csrf = browser(intake, "outreach")
    referral = submit(client, csrf)
    url = f"/outreach/referrals/{referral}/contact-terms"
    odd = client.post(url, data={"csrf": csrf, "action": "everything", **TERMS})
    assert odd.status_code == 422
    changed_without_consent = client.post(url, data={"csrf": csrf, "action": "change", **TERMS})
    assert changed_without_consent.status_code == 409
    other, other_csrf = browser(intake, "other_outreach")
    assert other.post(url, data={"csrf": other_csrf, "action": "grant",
                                 **TERMS}).status_code == 404
