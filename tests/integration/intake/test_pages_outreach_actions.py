"""What an outreach worker does on a referral's page with the person: withdraw a consent,
erase, choose among accepted places or refuse one. Each goes through the API's use case."""

from __future__ import annotations

import uuid

from sqlmodel import Session, select

from services.intake.models import ConsentRecord, OutboxMessage, Referral, TimelineEntry
from services.intake.offers.models import Offer
from shared import topics
from tests.support.intake import Intake
from tests.support.pages import CANARY_NAME, browser, engine, offer_for, submit


def test_withdrawing_a_consent_is_recorded_and_announced(intake: Intake) -> None:
    client, csrf = browser(intake, "outreach")
    referral = submit(client, csrf)
    bad = client.post(f"/outreach/referrals/{referral}/consent",
                      data={"csrf": csrf, "scope": "everything"})
    assert bad.status_code == 422 and "Choose which consent" in bad.text
    done = client.post(f"/outreach/referrals/{referral}/consent", follow_redirects=False,
                       data={"csrf": csrf, "scope": "share_contact"})
    assert done.status_code == 303
    with Session(engine(intake)) as session:
        current = session.exec(select(ConsentRecord).where(
            ConsentRecord.referral_id == uuid.UUID(referral),
            ConsentRecord.scope == "share_contact",
            ConsentRecord.revoked_at == None)).one()  # noqa: E711
        announced = session.exec(select(OutboxMessage).where(
            OutboxMessage.topic == topics.CONSENT_CHANGES.name)).all()
    assert current.granted is False and announced
    page = client.get(f"/outreach/referrals/{referral}").text
    assert "Give contact details to the provider that accepts: <strong>no</strong>" in page


def test_erasure_needs_a_confirmation_and_then_shreds(intake: Intake) -> None:
    client, csrf = browser(intake, "outreach")
    referral = submit(client, csrf)
    unconfirmed = client.post(f"/outreach/referrals/{referral}/erase", data={"csrf": csrf})
    assert unconfirmed.status_code == 422 and "Tick the box" in unconfirmed.text
    # Issue 19, defect 11: said on the referral page, by the box, not on a separate page.
    assert '<details id="erase" open>' in unconfirmed.text
    assert 'aria-describedby="confirm-error"' in unconfirmed.text
    assert "Nothing was erased yet" in unconfirmed.text
    erased = client.post(f"/outreach/referrals/{referral}/erase", follow_redirects=False,
                         data={"csrf": csrf, "confirm": "on"})
    assert erased.status_code == 303 and erased.headers["location"] == "/outreach/referrals"
    page = client.get(f"/outreach/referrals/{referral}")
    assert "were erased" in page.text and CANARY_NAME not in page.text
    with Session(engine(intake)) as session:
        stored = session.get(Referral, uuid.UUID(referral))
        assert stored is not None and stored.erased_at is not None
    other, other_csrf = browser(intake, "other_outreach")
    foreign = other.post(f"/outreach/referrals/{referral}/erase",
                         data={"csrf": other_csrf, "confirm": "on"})
    assert foreign.status_code == 404


def test_the_person_chooses_one_accepted_place_or_refuses_one(intake: Intake) -> None:
    client, csrf = browser(intake, "outreach")
    referral = submit(client, csrf)
    first, second = offer_for(intake, referral), offer_for(intake, referral)
    staff, staff_csrf = browser(intake, "provider")
    for offer in (first, second):
        staff.post(f"/provider/offers/{offer}/answer",
                   data={"csrf": staff_csrf, "decision": "accept"})
    with Session(engine(intake)) as session:  # as projected from ReferralStatusChanged
        stored = session.get(Referral, uuid.UUID(referral))
        assert stored is not None
        stored.status = "accepted"
        session.add(stored)
        session.commit()
    page = client.get(f"/outreach/referrals/{referral}").text
    assert page.count("The person chooses this place") == 2
    vague = client.post(f"/outreach/referrals/{referral}/choice", data={
        "csrf": csrf, "offer_id": second, "decision": "decline", "reason": "meh"})
    assert vague.status_code == 422 and "Choose why" in vague.text
    refused = client.post(f"/outreach/referrals/{referral}/choice", follow_redirects=False,
                          data={"csrf": csrf, "offer_id": second, "decision": "decline",
                                "reason": "location_not_safe"})
    assert refused.status_code == 303
    chosen = client.post(f"/outreach/referrals/{referral}/choice", follow_redirects=False,
                         data={"csrf": csrf, "offer_id": first, "decision": "choose"})
    assert chosen.status_code == 303
    with Session(engine(intake)) as session:
        kinds = {e.kind for e in session.exec(select(TimelineEntry).where(
            TimelineEntry.referral_id == uuid.UUID(referral)))}
        declined = session.get(Offer, uuid.UUID(second))
    assert {"person:chose", "person:declined"} <= kinds
    assert declined is not None and declined.status == "withdrawn"
    again = client.post(f"/outreach/referrals/{referral}/choice",
                        data={"csrf": csrf, "offer_id": second, "decision": "choose"})
    assert again.status_code == 409 and "refresh" in again.text
    page = client.get(f"/outreach/referrals/{referral}").text
    assert "The person chose a place" in page
