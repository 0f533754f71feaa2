"""A placement whose survivor message the notifier never reported is alerted; one whose
message was reported (sent or held), or that no message is due for, is not. On SQLite and
PostgreSQL, with the watchdog's own round and a clock of its own (no waiting)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

from sqlmodel import Session

from services.intake import read_models
from services.intake.watch import store
from services.intake.watch.rules import WatchPolicy
from services.intake.watch.watchdog import Watchdog
from services.notifier.model import ContactHours, SurvivorConsent, SurvivorTerms
from services.notifier.policy import plan_survivor
from shared.envelope import CloudEvent
from shared.events import Event, NotificationDelivered, ReferralStatusChanged
from shared.events.vocabulary import ReferralStatus
from shared.records import Envelope, RecordCodec
from tests.support.intake import Intake, referral_body
from tests.support.pages import engine, vault

POLICY = WatchPolicy(silent_after=timedelta(seconds=60), alert_after=timedelta(seconds=120))


def _project(intake: Intake, event: Event, source: str) -> str:
    """What the projector does with another service's event; returns the event id."""
    record = RecordCodec(source=source).encode(event)
    attributes = CloudEvent.from_headers(record.headers)
    with Session(engine(intake)) as session:
        assert read_models.apply(session, Envelope(attributes, event))
        session.commit()
    return attributes.id


def _placed(intake: Intake, *, contact: bool = True) -> tuple[str, str]:
    """A referral (survivor consented to SMS unless not), placed; (referral, status id)."""
    body = referral_body()
    if not contact:
        body["consent"]["contact_survivor"] = {"granted": False}  # type: ignore[index]
    answer = intake.client.post("/api/v1/referrals", json=body,
                                headers=intake.members["outreach"].headers)
    assert answer.status_code == 201, answer.text
    referral = str(answer.json()["id"])
    cause = _project(intake, ReferralStatusChanged(
        referral_id=uuid.UUID(referral), status=ReferralStatus.PLACED,
        reason="provider_accepted", changed_at=datetime.now(UTC)), "/haven/matching")
    return referral, cause


def test_an_unreported_survivor_message_is_alerted_and_a_reported_one_is_not(
        intake: Intake) -> None:
    unreported, _ = _placed(intake)
    reported, cause = _placed(intake)
    no_consent, _ = _placed(intake, contact=False)
    # The notifier's own plan for the person's message: its id is the one intake expects.
    consent = SurvivorConsent(granted=True, terms=SurvivorTerms(
        channel="sms", hours=ContactHours(time(10), time(18), "Europe/Madrid")))
    message = plan_survivor(cause_id=cause, referral_id=reported, consent=consent,
                            referrer=None, now=datetime.now(UTC))
    assert message is not None
    _project(intake, NotificationDelivered(
        notification_id=message.notification_id, referral_id=uuid.UUID(reported),
        channel="sms", outcome="held", at=datetime.now(UTC)), "/haven/notifier")
    later = [datetime.now(UTC) + timedelta(seconds=170)]
    watchdog = Watchdog(engine(intake), POLICY, vault=vault(intake), interval_s=1,
                        clock=lambda: later[0])
    assert not [a for a in watchdog.watch_once()
                if str(a.referral_id) in (unreported, reported, no_consent)], "not yet"
    later[0] += timedelta(seconds=20)
    acted = {str(a.referral_id): a for a in watchdog.watch_once()}
    assert acted[unreported].stuck == "survivor_message" and acted[unreported].step == "alert"
    assert reported not in acted and no_consent not in acted
    assert unreported not in {str(a.referral_id) for a in watchdog.watch_once()}, "only once"
    with Session(engine(intake)) as session:
        open_now = {str(a.referral_id)
                    for a in store.open_alerts(session, vault=vault(intake), now=later[0])}
    assert unreported in open_now and reported not in open_now
