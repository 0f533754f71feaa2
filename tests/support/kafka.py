"""Reading and writing the real broker from tests, with deadlines instead of sleeps."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from shared.records import IncomingRecord
from shared.topics import TopicSpec


def raw_producer(bootstrap: str) -> KafkaProducer:
    """A plain producer for hand-made (also deliberately broken) records."""
    return KafkaProducer(bootstrap_servers=bootstrap, acks="all")


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Where each partition ends now: read only what a test produces after this point."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def read_until(
    bootstrap: str,
    topic: str,
    done: Callable[[list[IncomingRecord]], bool],
    *,
    start: dict[int, int] | None = None,
    timeout_s: float = 60.0,
) -> list[IncomingRecord]:
    """Read `topic` from `start` (or the beginning) until `done(records)` or the deadline."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False,
        group_id=None, client_id=f"test-reader-{uuid.uuid4().hex[:8]}",
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(partitions)
        for tp in partitions:
            if start is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, start.get(tp.partition, 0))
        records: list[IncomingRecord] = []
        deadline = time.monotonic() + timeout_s
        while not done(records) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(
                    IncomingRecord(topic=m.topic, partition=m.partition, offset=m.offset,
                                   key=m.key, value=m.value, headers=list(m.headers or []))
                    for m in batch
                )
        return records
    finally:
        consumer.close()


def header(record: IncomingRecord, name: str) -> str | None:
    """One header's value as text, or None."""
    for key, value in record.headers:
        if key == name:
            return value.decode()
    return None


def start_group_at_end(bootstrap: str, group_id: str, specs: tuple[TopicSpec, ...]) -> None:
    """Commit today's end offsets for a new consumer group: a worker in it skips other tests'
    history, yet after a restart resumes from its own commits, never jumping ahead."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id,
                             enable_auto_commit=False)
    try:
        partitions = [TopicPartition(spec.name, p) for spec in specs
                      for p in consumer.partitions_for_topic(spec.name) or []]
        ends = consumer.end_offsets(partitions)
        consumer.commit({tp: OffsetAndMetadata(end, "", -1) for tp, end in ends.items()})
    finally:
        consumer.close()
