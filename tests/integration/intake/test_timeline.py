"""The referral timeline tells what happened when: each entry at the moment it happened."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from services.intake import read_models
from shared.envelope import CloudEvent
from shared.events import NotificationDelivered, OfferMade
from shared.records import Envelope, IncomingRecord, RecordCodec
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


def test_the_timeline_says_who_each_message_went_to(intake: Intake) -> None:
    """Issue 19, defect 3: a message to the provider or the outreach team is never called a
    message to the person; a v1 record (no audience) names no recipient rather than guess."""
    headers = intake.members["outreach"].headers
    answer = intake.client.post("/api/v1/referrals", json=referral_body(), headers=headers)
    assert answer.status_code == 201, answer.text
    referral = uuid.UUID(answer.json()["id"])
    now = datetime.now(UTC)
    codec = RecordCodec(source="/haven/notifier")
    sent = [NotificationDelivered(notification_id=f"ntf-{audience}-{uuid.uuid4().hex[:8]}",
                                  referral_id=referral, audience=audience,  # type: ignore[arg-type]
                                  channel=channel, outcome="delivered", at=now)  # type: ignore[arg-type]
            for audience, channel in (("provider", "email"), ("outreach", "email"),
                                      ("survivor", "sms"))]
    old = IncomingRecord(  # what a notifier before v2 wrote: no audience
        topic="notification.deliveries", partition=0, offset=0, key=b"ntf-old-00000001",
        value=json.dumps({"notification_id": "ntf-old-00000001", "referral_id": str(referral),
                          "channel": "email", "outcome": "delivered",
                          "at": now.isoformat()}).encode(),
        headers=[(name, b"org.haven.notification.delivered.v1" if name == "ce_type" else value)
                 for name, value in codec.encode(NotificationDelivered(
                     notification_id="ntf-old-00000001", channel="email",
                     outcome="delivered", at=now)).headers])
    with Session(engine(intake)) as session:
        for event in sent:
            assert read_models.apply(session, Envelope(
                CloudEvent.from_headers(codec.encode(event).headers), event))
        upcast = codec.decode(old)
        assert isinstance(upcast.event, NotificationDelivered)
        assert upcast.event.audience == "unknown"
        assert read_models.apply(session, upcast)
        session.commit()
    page = browser(intake, "outreach")[0].get(f"/outreach/referrals/{referral}").text
    happened = page.split("What happened", 1)[1]
    assert happened.count("Message to the provider: delivered") == 1
    assert happened.count("Message to your team: delivered") == 1
    assert happened.count("Message to the person: delivered") == 1, "only the survivor's SMS"
    assert happened.count("Message (recipient not recorded): delivered") == 1
