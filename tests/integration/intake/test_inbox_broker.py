"""The inbox on the real broker: the notifier's own delivery path posts sealed
InboxMessagePosted events, intake's projector opens them and stores each message once
for the right organization, and refuses tampered records into the dead-letter topic.

Nothing is faked: the broker, the database (SQLite and PostgreSQL), the signing and
sealing keys, the notifier's Handlers, Deliverer, delivery log, Renderer and
InboxChannel are the real ones; only the Faust agents around them are left out.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from sqlmodel import Session, select

from services.intake.inbox.models import InboxMessage
from services.intake.projector import SOURCES, Projector
from services.notifier import delivery_log
from services.notifier.channels import InboxChannel, Outgoing, inbox_message
from services.notifier.delivery import Deliverer
from services.notifier.handlers import Handlers
from services.notifier.model import Endpoints
from services.notifier.rendering import Renderer
from shared import topics
from shared.dead_letters import reason_of
from shared.events import (
    ContactTermsSet,
    Event,
    InboxMessagePosted,
    MatchingProfile,
    NotificationRetryScheduled,
    OfferMade,
    ReferralStatusChanged,
    ReferralSubmitted,
)
from shared.events.vocabulary import ReferralStatus, ServiceType, Urgency
from shared.identity import service_codec
from shared.kafka import EventPublisher, create_producer
from shared.recipients import MATCHING, NOTIFIER
from shared.records import IncomingRecord, OutgoingRecord
from shared.settings import KafkaSettings, RuntimeSettings
from tests.support.canary import Canaries, found_in
from tests.support.intake import Intake, referral_body, running_intake
from tests.support.kafka import end_offsets, raw_producer, read_until, start_group_at_end
from tests.support.pages import browser, engine

SIGNATURE_HEADERS = ("haven_sig", "haven_sig_kid")


def _wait(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@contextmanager
def _projector(intake: Intake, kafka: KafkaSettings) -> Iterator[str]:
    """Intake's projector and grant follower as the app runs them, in a group of our own
    that starts at today's end (the shared test broker holds other tests' records)."""
    app = intake.client.app
    ports = app.state.ports  # type: ignore[attr-defined]
    group = f"test-inbox-{uuid.uuid4().hex[:8]}"
    start_group_at_end(kafka.bootstrap_servers, group, SOURCES)

    def connect() -> EventPublisher:
        return EventPublisher(create_producer(kafka, client_id="test-intake"), ports.codec)

    projector = Projector(app.state.engine, connect, kafka,  # type: ignore[attr-defined]
                          grants=ports.grants, group_id=group)
    stop = threading.Event()
    thread = threading.Thread(target=projector.run, args=(stop,), daemon=True)
    ports.grants.start()
    thread.start()
    try:
        yield group
    finally:
        stop.set()
        thread.join(timeout=30)
        ports.grants.stop()


def _committed_to_end(kafka: KafkaSettings, group: str, start: dict[int, int]) -> bool:
    """Whether the group has committed everything written to notification.inbox so far."""
    ends = end_offsets(kafka.bootstrap_servers, topics.NOTIFICATION_INBOX.name)
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=group,
                             enable_auto_commit=False)
    try:
        return all((consumer.committed(TopicPartition(topics.NOTIFICATION_INBOX.name, p))
                    or 0) >= end for p, end in ends.items() if end > start.get(p, 0))
    finally:
        consumer.close()


class NotifierSide:
    """The notifier's handlers and deliverer, publishing through its own keys."""

    def __init__(self, kafka: KafkaSettings, var_dir: Path, directory: dict[str, Endpoints]):
        codec, _, _ = service_codec(NOTIFIER, source="/haven/notifier",
                                    runtime=RuntimeSettings(var_dir=var_dir), kafka=kafka)
        self.publisher = EventPublisher(create_producer(kafka, client_id="test-notifier"), codec)
        channel = InboxChannel(self.post)
        deliverer = Deliverer(
            engine=delivery_log.open_log(f"sqlite:///{var_dir / 'notifier-log.sqlite3'}"),
            channels={"inbox": channel}, renderer=Renderer(), directory=directory,
            publish=self.publish, consent_of=lambda r: self.handlers.consent_of(r),
            dead_letter=self.letter, retry_delays=[1.0])
        self.handlers = Handlers(deliverer=deliverer, open_terms=self.no_terms,
                                 link_base="http://127.0.0.1:8000")

    async def publish(self, events: list[Event]) -> None:
        for event in events:
            for record in self.publisher.codec.encode_all(event):
                self.publisher.send(record).get(timeout=30)

    async def post(self, message: Outgoing) -> None:
        """What the worker's post_inbox does (services/notifier/app.py)."""
        await self.publish([inbox_message(message, delivery_log.now())])

    async def letter(self, event: NotificationRetryScheduled, reason: str) -> None:
        raise AssertionError(f"no inbox message may fail here ({reason})")

    async def no_terms(self, value: bytes, headers: Sequence[tuple[str, bytes]]
                       ) -> ContactTermsSet | None:
        return None


async def _notify(notifier: NotifierSide, intake: Intake, referral: uuid.UUID,
                  offer: OfferMade) -> None:
    """A referral's submission, its offer to the provider, and the status for outreach."""
    now = datetime.now(UTC)
    await notifier.handlers.referral_submitted(ReferralSubmitted(
        referral_id=referral, outreach_organization_id=intake.members["outreach"].organization_id,
        submitted_at=now, profile=MatchingProfile(
            needs=[ServiceType.EMERGENCY_SHELTER], urgency=Urgency.TONIGHT, age_min=25,
            age_max=35, region="north"), consents=[]))
    await notifier.handlers.offer_made(offer, f"cause-offer-{offer.offer_id}")
    await notifier.handlers.status_changed(ReferralStatusChanged(
        referral_id=referral, status=ReferralStatus.OFFERED, reason="offer_made",
        changed_at=now), f"cause-status-{offer.offer_id}")


def _tampered(record: IncomingRecord, notifier: NotifierSide) -> list[OutgoingRecord]:
    """One copy with a changed byte and the old signature; one with a changed ciphertext
    that the notifier's key signed again (only the sealing can tell)."""
    value = bytearray(record.value or b"")
    value[-1] ^= 0x01
    headers = [(name, bytes(raw)) for name, raw in record.headers]
    unsigned = [(n, v) for n, v in headers if n not in SIGNATURE_HEADERS]
    base = OutgoingRecord(topic=record.topic, key=record.key or b"", value=bytes(value),
                          headers=headers)
    return [base, notifier.publisher.codec.signed(replace(base, headers=unsigned))]


def _rows(intake: Intake, referral: uuid.UUID) -> list[InboxMessage]:
    with Session(engine(intake)) as session:
        return list(session.exec(select(InboxMessage)
                                 .where(InboxMessage.referral_id == referral)).all())


def test_inbox_messages_reach_their_organization_once_and_tampering_is_refused(
        kafka_broker: KafkaSettings, database_url: str, tmp_path: Path) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    with running_intake(var_dir=tmp_path, database_url=database_url, kafka=kafka_broker,
                        background=False) as intake, _projector(intake, kafka_broker) as group:
        canaries = Canaries.fresh()
        created = intake.client.post("/api/v1/referrals", headers=intake.members[
            "outreach"].headers, json=referral_body(contact={
                "name": canaries.name, "phone": canaries.phone, "email": canaries.email}))
        assert created.status_code == 201, created.text
        referral = uuid.UUID(created.json()["id"])
        provider = intake.members["provider"].organization_id
        outreach = intake.members["outreach"].organization_id
        directory = {str(provider): Endpoints(str(provider), "Test shelter"),
                     str(outreach): Endpoints(str(outreach), "Test outreach team")}
        inbox_start = end_offsets(bootstrap, topics.NOTIFICATION_INBOX.name)
        dlq = topics.dead_letter_name(topics.NOTIFICATION_INBOX.name)
        dlq_start = end_offsets(bootstrap, dlq)
        offer = OfferMade(offer_id=uuid.uuid4(), referral_id=referral, organization_id=provider,
                          service_id=uuid.uuid4(), rank=1,
                          expires_at=datetime.now(UTC) + timedelta(hours=2))
        matching, _, _ = service_codec(MATCHING, source="/haven/matching",
                                       runtime=RuntimeSettings(var_dir=tmp_path),
                                       kafka=kafka_broker)
        offers = EventPublisher(create_producer(kafka_broker, client_id="test-matching"),
                                matching)
        for grant_or_offer in matching.encode_all(offer):  # so intake knows the offer to link
            offers.send(grant_or_offer).get(timeout=30)
        offers.close()
        notifier = NotifierSide(kafka_broker, tmp_path, directory)
        asyncio.run(_notify(notifier, intake, referral, offer))
        _wait(lambda: len(_rows(intake, referral)) == 2, "both inbox messages in intake")

        posted = read_until(bootstrap, topics.NOTIFICATION_INBOX.name,
                            done=lambda rs: len(rs) >= 2, start=inbox_start)
        assert len(posted) == 2, "one message per organization (the reminder is held)"
        replay = raw_producer(bootstrap)
        for record in posted:  # the broker redelivers the very same records
            replay.send(record.topic, key=record.key, value=record.value,
                        headers=[(n, bytes(v)) for n, v in record.headers])
        replay.flush()
        first = _rows(intake, referral)[0]
        asyncio.run(notifier.post(Outgoing(  # a crashed notifier posts the same one again
            notification_id=first.notification_id, channel="inbox",
            address=str(first.organization_id), subject="Posted twice", text="again",
            data={"referral_id": str(referral)})))
        for bad in _tampered(posted[0], notifier):
            notifier.publisher.send(bad).get(timeout=30)
        letters = read_until(bootstrap, dlq, done=lambda rs: len(rs) >= 2, start=dlq_start)
        _wait(lambda: _committed_to_end(kafka_broker, group, inbox_start),
              "the projector to commit everything it read")

        assert sorted(reason_of(list(r.headers))["haven_dlq_reason"] for r in letters) == [
            "bad-signature", "tampered"]
        assert {reason_of(list(r.headers))["haven_dlq_consumer"] for r in letters} == {"intake"}
        rows = _rows(intake, referral)
        assert len(rows) == 2 and "Posted twice" not in {row.title for row in rows}
        assert {row.organization_id for row in rows} == {provider, outreach}
        by_org = {row.organization_id: row for row in rows}
        assert "offer" in by_org[provider].title and "Urgency: tonight" in by_org[provider].body
        assert "offered to a provider" in by_org[outreach].title

        staff, _ = browser(intake, "provider")
        staff_page = staff.get("/inbox").text
        assert by_org[provider].title in staff_page
        assert by_org[outreach].title not in staff_page
        assert f'href="/provider/offers#offer-{offer.offer_id}"' in staff_page
        worker, _ = browser(intake, "outreach")
        worker_page = worker.get("/inbox").text
        assert by_org[outreach].title in worker_page and by_org[provider].title not in worker_page
        other, _ = browser(intake, "other_outreach")
        other_page = other.get("/inbox").text
        assert all(row.title not in other_page for row in rows)
        api = intake.client.get("/api/v1/inbox", headers=intake.members["provider"].headers)

        blobs = [(f"row {row.id}", f"{row.title}\n{row.body}".encode()) for row in rows]
        blobs += [("staff page", staff_page.encode()), ("outreach page", worker_page.encode()),
                  ("api", api.content)]
        blobs += [(f"record {r.offset}", (r.value or b"") + b"".join(v for _, v in r.headers))
                  for r in posted]
        assert found_in(blobs, canaries) == []

        erased = intake.client.post(f"/api/v1/referrals/{referral}/erase",
                                    headers=intake.members["outreach"].headers)
        assert erased.status_code == 204
        assert _rows(intake, referral) == []
        notifier.publisher.close()


def test_a_message_the_database_cannot_store_is_lettered_and_the_next_one_still_lands(
        kafka_broker: KafkaSettings, database_url: str, tmp_path: Path) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    with running_intake(var_dir=tmp_path, database_url=database_url, kafka=kafka_broker,
                        background=False) as intake, _projector(intake, kafka_broker):
        provider = intake.members["provider"].organization_id
        referral = uuid.uuid4()
        dlq = topics.dead_letter_name(topics.NOTIFICATION_INBOX.name)
        dlq_start = end_offsets(bootstrap, dlq)
        notifier = NotifierSide(kafka_broker, tmp_path, {})
        # Valid to every schema, but PostgreSQL cannot keep a NUL character in text.
        stuck, after = (InboxMessagePosted(
            notification_id=f"ntf-{name}-{uuid.uuid4().hex[:8]}", referral_id=referral,
            organization_id=provider, title=title, body="A test message.",
            posted_at=datetime.now(UTC)) for name, title in (
                ("nul", "Null \x00 inside"), ("next", "The one after")))
        asyncio.run(notifier.publish([stuck, after]))
        _wait(lambda: any(row.title == "The one after" for row in _rows(intake, referral)),
              "the message after the refused one")
        if database_url.startswith("postgresql"):
            # At least once: a projector restarted between the letter and its commit letters
            # the record again (a repeat is harmless; a missing letter is not).
            letters = read_until(bootstrap, dlq, done=lambda rs: len(rs) >= 1, start=dlq_start)
            assert letters
            for letter in letters:
                why = reason_of(list(letter.headers))
                assert (why["haven_dlq_reason"], why["haven_dlq_consumer"]) == (
                    "unprocessable", "intake")
            assert [row.title for row in _rows(intake, referral)] == ["The one after"]
        notifier.publisher.close()
