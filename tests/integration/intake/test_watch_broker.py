"""Nothing stuck silently, on the real broker: a submission matching never answers is sent
again with the same event id and record, then alerted to admins and shown on the outreach
worker's page; a submission matching answered is never sent again.

"Matching never answers" is certain here: this intake runs no projector, so no status
reaches its database whatever other tests' workers on the shared broker do; the answered
referral gets its status the way the projector writes matching's (read_models.apply).
The relay and the watchdog are the app's own, with periods of seconds.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, select

from services.intake import read_models
from services.intake.models import TimelineEntry
from services.intake.outbox import OutboxRelay
from services.intake.watch.rules import WatchPolicy
from services.intake.watch.watchdog import Watchdog
from shared import topics
from shared.envelope import CloudEvent
from shared.events import ReferralStatusChanged
from shared.events.vocabulary import ReferralStatus
from shared.kafka import EventPublisher, create_producer
from shared.records import Envelope, IncomingRecord, RecordCodec
from shared.references import referral_reference
from shared.settings import KafkaSettings
from tests.support.intake import Intake, referral_body, running_intake
from tests.support.kafka import end_offsets, read_until
from tests.support.pages import browser, engine, vault
from tests.support.processes import wait_until

POLICY = WatchPolicy(silent_after=timedelta(seconds=1), alert_after=timedelta(seconds=2))


@contextmanager
def _relay_and_watchdog(intake: Intake, kafka: KafkaSettings) -> Iterator[None]:
    """The outbox relay and the watchdog as the lifespan runs them."""
    ports = intake.client.app.state.ports  # type: ignore[attr-defined]

    def connect() -> EventPublisher:
        return EventPublisher(create_producer(kafka, client_id="test-watch"), ports.codec)

    stop = threading.Event()
    workers = [threading.Thread(target=OutboxRelay(engine(intake), connect).run, args=(stop,)),
               threading.Thread(target=Watchdog(engine(intake), POLICY, vault=vault(intake),
                                                interval_s=0.2).run, args=(stop,))]
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)


def _submit(intake: Intake) -> str:
    answer = intake.client.post("/api/v1/referrals", json=referral_body(),
                                headers=intake.members["outreach"].headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _kinds(intake: Intake, referral: str) -> list[str]:
    with Session(engine(intake)) as session:
        return [e.kind for e in session.exec(select(TimelineEntry).where(
            TimelineEntry.referral_id == uuid.UUID(referral)).order_by(TimelineEntry.id))]  # type: ignore[arg-type]


def _of(records: list[IncomingRecord], referral: str) -> list[IncomingRecord]:
    return [r for r in records if r.key == referral.encode()]


def test_a_submission_matching_never_answers_is_sent_again_with_its_id_then_alerted(
        kafka_broker: KafkaSettings, database_url: str, tmp_path: Path) -> None:
    start = end_offsets(kafka_broker.bootstrap_servers, topics.REFERRAL_SUBMITTED.name)
    with running_intake(var_dir=tmp_path, database_url=database_url,
                        kafka=kafka_broker) as intake, _relay_and_watchdog(intake, kafka_broker):
        silent, answered = _submit(intake), _submit(intake)
        status = ReferralStatusChanged(referral_id=uuid.UUID(answered),
                                       status=ReferralStatus.MATCHING, reason="ranked",
                                       changed_at=datetime.now(UTC))
        record = RecordCodec(source="/haven/matching").encode(status)
        with Session(engine(intake)) as session:  # matching's answer, as the projector writes it
            assert read_models.apply(session, Envelope(CloudEvent.from_headers(record.headers),
                                                       status))
            session.commit()
        assert wait_until(lambda: "alert:stuck:matching" in _kinds(intake, silent), 60), \
            _kinds(intake, silent)
        records = read_until(kafka_broker.bootstrap_servers, topics.REFERRAL_SUBMITTED.name,
                             done=lambda rs: len(_of(rs, silent)) >= 2 and bool(_of(rs, answered)),
                             start=start, timeout_s=30)
        first, again = _of(records, silent)[:2]
        assert dict(first.headers)["ce_id"] == dict(again.headers)["ce_id"], "same event id"
        assert (first.value, first.headers) == (again.value, again.headers), "the same record"
        assert _kinds(intake, silent)[-2:] == ["watch:resent", "alert:stuck:matching"]
        reference = referral_reference(silent)
        admin_page = browser(intake, "admin")[0].get("/admin").text
        assert f'data-stuck="{reference}"' in admin_page, "admins see it"
        assert referral_reference(answered) not in admin_page
        page = browser(intake, "outreach")[0].get(f"/outreach/referrals/{silent}").text
        assert 'data-stuck="matching"' in page and "This referral is stuck" in page
    # Everything on the topic up to its end once the watch stopped (the relay flushed).
    ends = end_offsets(kafka_broker.bootstrap_servers, topics.REFERRAL_SUBMITTED.name)
    total = sum(end - start.get(partition, 0) for partition, end in ends.items())
    records = read_until(kafka_broker.bootstrap_servers, topics.REFERRAL_SUBMITTED.name,
                         done=lambda rs: len(rs) >= total, start=start, timeout_s=30)
    assert len(records) >= total
    assert len(_of(records, silent)) == 2, "sent again once, alerted after"
    assert len(_of(records, answered)) == 1, "an answered submission is never sent again"
    assert "watch:resent" not in _kinds(intake, answered)
