"""Several relays on one PostgreSQL database share the outbox without publishing a row twice."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest
from sqlmodel import Session

from services.intake.db import create_db_engine, migrate
from services.intake.outbox import OutboxRelay, enqueue
from shared.kafka import EventPublisher, create_producer, ensure_topics
from shared.records import OutgoingRecord, RecordCodec
from shared.settings import KafkaSettings
from shared.topics import TopicSpec
from tests.support.kafka import read_until

ROWS = 600


@pytest.mark.slow
def test_concurrent_relays_publish_each_row_once(kafka_broker: KafkaSettings,
                                                 database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs a single relay by design (docs/intake.md)")
    sink = TopicSpec(f"test.relays.{uuid.uuid4().hex[:8]}", "row", "relay test", partitions=3)
    ensure_topics(kafka_broker, (sink,))
    engine = create_db_engine(database_url)
    migrate(engine)
    with Session(engine) as session:
        for index in range(ROWS):
            enqueue(session, OutgoingRecord(sink.name, str(index).encode(), b"x", []),
                    event_id=f"relay-test-{sink.name}-{index}")
        session.commit()

    def connect() -> EventPublisher:
        return EventPublisher(create_producer(kafka_broker, client_id="relay-test"),
                              RecordCodec(source="/test"))

    relays = [OutboxRelay(engine, connect, batch=25) for _ in range(3)]
    counts = [0, 0, 0]

    def drain(slot: int) -> None:
        while (published := relays[slot].publish_pending()) > 0:
            counts[slot] += published

    threads = [threading.Thread(target=drain, args=(slot,)) for slot in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    engine.dispose()
    records = read_until(kafka_broker.bootstrap_servers, sink.name,
                         done=lambda rs: len(rs) >= ROWS, timeout_s=60)
    keys = Counter(record.key for record in records)
    assert len(keys) == ROWS and max(keys.values()) == 1, "every row exactly once"
    assert sum(counts) == ROWS
    assert sum(1 for count in counts if count > 0) >= 2, "the relays really shared the work"
