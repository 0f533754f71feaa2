"""Provider staff answer offers: only their own, only while open, contact only with consent."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from services.intake import read_models
from services.intake.models import OutboxMessage, Referral
from services.intake.offers import handlers
from shared import topics
from shared.events import ErasureApplied, OfferClosed, OfferMade, WithdrawnOffer
from shared.identity import service_codec
from shared.recipients import MATCHING
from shared.records import IncomingRecord
from shared.settings import KafkaSettings
from tests.support.intake import Intake, referral_body
from tests.support.pages import browser


def _offer(intake: Intake, *, expires_in: timedelta = timedelta(hours=2),
           **consent_overrides: object) -> tuple[str, str]:
    body = referral_body()
    if consent_overrides:
        body["consent"] = {**body["consent"], **consent_overrides}  # type: ignore[dict-item]
    created = intake.client.post("/api/v1/referrals", json=body,
                                 headers=intake.members["outreach"].headers)
    assert created.status_code == 201, created.text
    referral = created.json()["id"]
    made = OfferMade(offer_id=uuid.uuid4(), referral_id=uuid.UUID(referral),
                     organization_id=intake.members["provider"].organization_id,
                     service_id=uuid.uuid4(), rank=1,
                     expires_at=datetime.now(UTC) + expires_in,
                     explanation=["met every eligibility rule", "language_fit: +3.00"])
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        handlers.offer_made(session, made)  # what the projector does with matching's event
        session.commit()
    return referral, str(made.offer_id)


def test_staff_see_a_deidentified_summary_and_contact_only_after_accepting(
        intake: Intake) -> None:
    staff = intake.members["provider"].headers
    referral, offer = _offer(intake)
    [listed] = [o for o in intake.client.get("/api/v1/offers", headers=staff).json()
                if o["id"] == offer]
    assert listed["status"] == "open" and 0 < listed["seconds_left"] <= 7200
    assert listed["summary"]["age_band"] == "25–35" and listed["contact"] is None
    assert "CANARY" not in json.dumps(listed)
    assert listed["explanation"][0] == "met every eligibility rule"
    accepted = intake.client.post(f"/api/v1/offers/{offer}/accept", headers=staff)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["contact"] is None, "not before matching confirms the placement"
    _matching_closes(intake, referral, offer, "accepted")
    confirmed = intake.client.get(f"/api/v1/offers/{offer}", headers=staff).json()
    assert confirmed["contact"]["name"] == "CANARY-NAME-Zyx"
    late = intake.client.post(f"/api/v1/offers/{offer}/decline", headers=staff,
                              json={"reason": "at_capacity"})
    assert late.status_code == 409 and "already" in late.json()["detail"]
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        answers = session.exec(select(OutboxMessage).where(
            OutboxMessage.topic == topics.REFERRAL_RESPONSES.name)).all()
    assert all(b"CANARY" not in row.value for row in answers), "answers travel sealed"


def test_no_contact_without_consent_to_share_it(intake: Intake) -> None:
    staff = intake.members["provider"].headers
    referral, offer = _offer(intake, share_contact={"granted": False})
    accepted = intake.client.post(f"/api/v1/offers/{offer}/accept", headers=staff)
    assert accepted.status_code == 200
    _matching_closes(intake, referral, offer, "accepted")
    assert intake.client.get(f"/api/v1/offers/{offer}", headers=staff).json()["contact"] is None


def test_an_expired_offer_cannot_be_answered(intake: Intake) -> None:
    _, offer = _offer(intake, expires_in=timedelta(seconds=-1))
    answer = intake.client.post(f"/api/v1/offers/{offer}/accept",
                                headers=intake.members["provider"].headers)
    assert answer.status_code == 409 and "expired" in answer.json()["detail"]


def test_only_the_offered_organization_sees_and_answers(intake: Intake) -> None:
    _, offer = _offer(intake)
    for member in ("admin", "outreach"):
        answer = intake.client.post(f"/api/v1/offers/{offer}/accept",
                                    headers=intake.members[member].headers)
        assert answer.status_code == 403
    declined = intake.client.post(f"/api/v1/offers/{offer}/decline",
                                  headers=intake.members["provider"].headers,
                                  json={"reason": "no such reason"})
    assert declined.status_code == 422 and "reason" in declined.text


def _matching_closes(intake: Intake, referral: str, offer: str, outcome: str,
                     reason: str = "") -> None:
    """What the projector does with matching's OfferClosed."""
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        handlers.offer_closed(session, OfferClosed(
            offer_id=uuid.UUID(offer), referral_id=uuid.UUID(referral),
            organization_id=intake.members["provider"].organization_id,
            service_id=uuid.uuid4(), outcome=outcome, reason=reason,  # type: ignore[arg-type]
            closed_at=datetime.now(UTC)))
        session.commit()


def _referral_status(intake: Intake, referral: str, status: str) -> None:
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        row = session.get(Referral, uuid.UUID(referral))
        assert row is not None
        row.status = status  # what the projector does with matching's status event
        session.add(row)
        session.commit()


def _responses(intake: Intake) -> list[OutboxMessage]:
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        return list(session.exec(select(OutboxMessage).where(
            OutboxMessage.topic == topics.REFERRAL_RESPONSES.name)).all())


def test_the_person_chooses_among_accepted_places(intake: Intake) -> None:
    outreach, staff = intake.members["outreach"].headers, intake.members["provider"].headers
    referral, offer = _offer(intake)
    path = f"/api/v1/referrals/{referral}/choose"
    early = intake.client.post(path, json={"offer_id": offer}, headers=outreach)
    assert early.status_code == 409 and "not accepted" in early.json()["detail"]
    intake.client.post(f"/api/v1/offers/{offer}/accept", headers=staff)
    _referral_status(intake, referral, "accepted")
    before = len(_responses(intake))
    chosen = intake.client.post(path, json={"offer_id": offer}, headers=outreach)
    assert chosen.status_code == 204, chosen.text
    assert len(_responses(intake)) == before + 1
    assert intake.client.post(path, json={"offer_id": offer},
                              headers=staff).status_code == 403
    unknown = intake.client.post(path, json={"offer_id": str(uuid.uuid4())}, headers=outreach)
    assert unknown.status_code == 404
    assert intake.client.post(path, json={"offer": offer}, headers=outreach).status_code == 422
    _matching_closes(intake, referral, offer, "accepted")
    again = intake.client.post(path, json={"offer_id": offer}, headers=outreach)
    assert again.status_code == 409 and "not waiting for a choice" in again.json()["detail"]


def test_the_person_declines_an_accepted_place(intake: Intake) -> None:
    outreach, staff = intake.members["outreach"].headers, intake.members["provider"].headers
    referral, offer = _offer(intake)
    intake.client.post(f"/api/v1/offers/{offer}/accept", headers=staff)
    path = f"/api/v1/referrals/{referral}/decline-placement"
    bad = intake.client.post(path, json={"offer_id": offer, "reason": "bored"},
                             headers=outreach)
    assert bad.status_code == 422 and "reason" in bad.text
    declined = intake.client.post(path, json={"offer_id": offer,
                                              "reason": "location_not_safe"}, headers=outreach)
    assert declined.status_code == 204, declined.text
    seen = intake.client.get(f"/api/v1/offers/{offer}", headers=staff).json()
    assert (seen["status"], seen["reason"]) == ("withdrawn", "person_declined")
    twice = intake.client.post(path, json={"offer_id": offer, "reason": "other"},
                               headers=outreach)
    assert twice.status_code == 409
    assert all(b"location_not_safe" not in row.value for row in _responses(intake)), \
        "the reason travels sealed"


def test_matchings_word_is_final(intake: Intake) -> None:
    referral, offer = _offer(intake)
    _matching_closes(intake, referral, offer, "withdrawn", "consent_withdrawn")
    answer = intake.client.post(f"/api/v1/offers/{offer}/accept",
                                headers=intake.members["provider"].headers)
    assert answer.status_code == 409 and "withdrawn" in answer.json()["detail"]


def test_erasure_closes_the_open_offer_at_once_and_matchings_word_needs_no_key(
        intake: Intake) -> None:
    """Issue 19, defect 1: erasing a referral withdraws its open offer in the erasure's own
    transaction (the provider's page and API say so at once, an answer is refused in plain
    words), and matching's consequence (`ErasureApplied`, signed, not sealed) is projected
    without any key of the erased referral."""
    staff = intake.members["provider"].headers
    referral, offer = _offer(intake)
    provider, _ = browser(intake, "provider")

    def card() -> str:
        page = provider.get("/provider/offers").text
        start = page.index(f'id="offer-{offer}"')
        end = page.find('<li class="card"', start)
        return page[start:end if end > 0 else len(page)]

    assert "Waiting for an answer" in card()
    erased = intake.client.post(f"/api/v1/referrals/{referral}/erase",
                                headers=intake.members["outreach"].headers)
    assert erased.status_code == 204, erased.text
    seen = intake.client.get(f"/api/v1/offers/{offer}", headers=staff).json()
    assert (seen["status"], seen["reason"]) == ("withdrawn", "erased")
    assert "Waiting for an answer" not in card() and "data were erased" in card()
    before = len(_responses(intake))
    answer = intake.client.post(f"/api/v1/offers/{offer}/accept", headers=staff)
    assert answer.status_code == 409 and "erased" in answer.json()["detail"]
    assert len(_responses(intake)) == before, "no answer is announced about an erased person"
    applied = ErasureApplied(referral_id=uuid.UUID(referral), released_holds=1,
                             applied_at=datetime.now(UTC), withdrawn=[WithdrawnOffer(
                                 offer_id=uuid.UUID(offer), service_id=uuid.uuid4(),
                                 organization_id=intake.members["provider"].organization_id)])
    assert intake.runtime is not None
    matching, _, _ = service_codec(MATCHING, source="/haven/matching", runtime=intake.runtime,
                                   kafka=KafkaSettings())
    [record] = matching.encode_all(applied)
    codec = intake.client.app.state.ports.codec  # type: ignore[attr-defined]
    assert dict(record.headers)["content-type"] == b"application/json", "signed, not sealed"
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        assert read_models.apply(session, codec.decode(IncomingRecord(
            topic=record.topic, partition=0, offset=0, key=record.key, value=record.value,
            headers=record.headers)))
        session.commit()
    timeline = intake.client.get(f"/api/v1/referrals/{referral}",
                                 headers=intake.members["outreach"].headers).json()["timeline"]
    kinds = [entry["kind"] for entry in timeline]
    assert {"erased", "erasure:offers_withdrawn", "erasure:applied"} <= set(kinds), kinds
