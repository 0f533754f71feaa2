"""Feeds the read models from Kafka inside the intake process (a background thread).

Offsets are committed only after the database transaction that applied the
records, and `read_models.apply` is idempotent on the event id, so a crash
anywhere replays at most a few records and changes nothing twice. A record the
database refuses (a constraint, a value it cannot store) goes to the dead-letter
topic as `unprocessable`; an unreachable database is retried.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import Session

from services.intake import read_models
from shared import topics
from shared.dead_letters import dead_letter
from shared.grant_follower import GrantFollower
from shared.kafka import EventPublisher
from shared.protection import needed_grants
from shared.records import IncomingRecord, RejectedRecord
from shared.settings import KafkaSettings

log = logging.getLogger("haven.intake.projector")
SOURCES = (topics.REFERRAL_STATUS, topics.REFERRAL_OFFERS, topics.NOTIFICATION_DELIVERIES,
           topics.NOTIFICATION_INBOX, topics.CAPACITY_COUNTS)
GROUP = "haven-intake"


class Projector:
    def __init__(self, engine: Engine, connect: Callable[[], EventPublisher],
                 kafka: KafkaSettings, *, grants: GrantFollower | None = None,
                 group_id: str = GROUP,
                 sources: tuple[topics.TopicSpec, ...] = SOURCES) -> None:
        self._engine = engine
        self._group_id = group_id  # tests run their own group on a shared broker
        self._sources = sources    # and may follow only the topics they need
        self._connect = connect
        self._kafka = kafka
        self._grants = grants
        self.current_since: datetime | None = None

    def view_current_since(self) -> datetime | None:
        """Since when this projector has read everything published to its partitions
        (None while it catches up after a start or a reconnect): intake's watch counts
        silence from there, so its own lag is not taken for matching's."""
        return self.current_since

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set; reconnects on broker errors."""
        while not stop.is_set():
            try:
                self._consume(stop)
            except Exception as error:  # broker gone, DB busy: start over after a pause
                log.warning("projector restarting", extra={"reason": type(error).__name__})
                stop.wait(2.0)

    def _consume(self, stop: threading.Event) -> None:
        publisher = self._connect()
        consumer = KafkaConsumer(
            *(spec.name for spec in self._sources), bootstrap_servers=self._kafka.bootstrap_servers,
            group_id=self._group_id, enable_auto_commit=False, auto_offset_reset="earliest",
            client_id="haven-intake-projector",
        )
        self.current_since = None
        try:
            while not stop.is_set():
                batches = consumer.poll(timeout_ms=500, max_records=200)
                if batches:
                    records = [record for batch in batches.values() for record in batch]
                    self._apply(records, publisher)
                    consumer.commit()
                if self.current_since is None and _read_to_the_end(consumer):
                    self.current_since = datetime.now(UTC)
                    log.info("projection caught up")
        finally:
            consumer.close()
            publisher.close()

    def _apply(self, messages: list[Any], publisher: EventPublisher) -> None:
        records = [IncomingRecord(
            topic=m.topic, partition=m.partition, offset=m.offset, key=m.key, value=m.value,
            headers=list(m.headers or [])) for m in messages]
        try:
            self._apply_in_one_transaction(records, publisher)
        except (IntegrityError, DataError):
            # The database refuses one record (a value it cannot store): retrying the batch
            # would refuse it forever and hold up every record behind it. Find it, letter it.
            for record in records:
                try:
                    self._apply_in_one_transaction([record], publisher)
                except (IntegrityError, DataError) as error:
                    refused = RejectedRecord("unprocessable", type(error.orig).__name__)
                    publisher.send(dead_letter(record, refused, consumer="intake"))
                    publisher.flush()

    def _apply_in_one_transaction(self, records: list[IncomingRecord],
                                  publisher: EventPublisher) -> None:
        with Session(self._engine) as session:
            for record in records:
                if self._grants is not None:
                    referral, needed = needed_grants(record.value, record.headers,
                                                     self._grants.owner)
                    if needed:
                        self._grants.wait_for(referral, needed)
                try:
                    read_models.apply(session, publisher.codec.decode(record))
                except RejectedRecord as rejection:
                    publisher.send(dead_letter(record, rejection, consumer="intake"))
            session.flush()  # the database's refusals surface here, before any letter goes
            publisher.flush()
            session.commit()


def _read_to_the_end(consumer: KafkaConsumer) -> bool:
    """Every assigned partition read up to its end offset (none assigned yet: not so)."""
    assigned = consumer.assignment()
    if not assigned:
        return False
    ends = consumer.end_offsets(list(assigned))
    return all(consumer.position(tp) >= end for tp, end in ends.items())
