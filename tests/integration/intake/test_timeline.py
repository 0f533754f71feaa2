"""The referral timeline tells what happened when: each entry at the moment it happened."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from services.intake import read_models
from shared.envelope import CloudEvent
from shared.events import OfferMade
from shared.records import Envelope, RecordCodec
from tests.support.intake import Intake, referral_body
from tests.support.pages import browser, engine


def test_an_offer_is_stamped_when_it_was_made_not_when_it_expires(intake: Intake) -> None:
    headers = intake.members["outreach"].headers
    answer = intake.client.post("/api/v1/referrals", json=referral_body(), headers=headers)
    assert answer.status_code == 201, answer.text
    referral = answer.json()["id"]
    made_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    offer = OfferMade(offer_id=uuid.uuid4(), referral_id=uuid.UUID(referral),
                      organization_id=intake.members["provider"].organization_id,
                      service_id=uuid.uuid4(), rank=1, expires_at=made_at + timedelta(hours=4))
    record = RecordCodec(source="/haven/matching").encode(offer)
    attributes = replace(CloudEvent.from_headers(record.headers), time=made_at)
    with Session(engine(intake)) as session:  # what the projector does with matching's event
        assert read_models.apply(session, Envelope(attributes, offer))
        session.commit()
    detail = intake.client.get(f"/api/v1/referrals/{referral}", headers=headers).json()
    offered = [item for item in detail["timeline"] if item["kind"] == "offered"]
    assert len(offered) == 1
    assert datetime.fromisoformat(offered[0]["at"]).replace(tzinfo=UTC) == made_at
    page = browser(intake, "outreach")[0].get(f"/outreach/referrals/{referral}").text
    made = f'<time datetime="{made_at.isoformat()}">{made_at:%d %b %H:%M}</time>'
    assert made in page.split("What happened", 1)[1], "the page shows when it was made"
