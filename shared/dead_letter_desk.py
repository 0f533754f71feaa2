"""The operator's side of dead letters: list them by reason, look at one, send one back.

A dead letter holds the refused record byte for byte plus why (shared/dead_letters.py).
Once its cause is fixed (a key published, a bug deployed away), replaying sends the
original record, with its original headers, to its source topic: its `ce_id` is
unchanged, so a consumer that did act on it once drops it as a repeat.

Nothing here prints a payload: values are sealed or signed bytes, and an operator
needs the why, not the what.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from shared.dead_letters import (
    CONSUMER,
    DETAIL,
    DLQ_HEADERS,
    ORIGINAL_OFFSET,
    ORIGINAL_PARTITION,
    ORIGINAL_TOPIC,
    REASON,
    REJECTED_AT,
    reason_of,
)
from shared.records import IncomingRecord
from shared.settings import KafkaSettings
from shared.topics import DATA_TOPICS, dead_letter_name

#: Refused records of every data topic (not the notifier's failed notifications, which
#: are a report, not a refusal: nothing to send back).
DEAD_LETTER_TOPICS = tuple(spec.dead_letter for spec in DATA_TOPICS)


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter as an operator sees it: where it is, where it came from, why."""

    topic: str
    partition: int
    offset: int
    source_topic: str
    source_partition: str
    source_offset: str
    reason: str
    detail: str
    consumer: str
    rejected_at: str
    event_type: str
    event_id: str
    size: int

    @property
    def address(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


def describe(record: IncomingRecord) -> DeadLetter:
    why = reason_of(list(record.headers))
    attributes = {name: value.decode(errors="replace") for name, value in record.headers
                  if name in ("ce_type", "ce_id")}
    return DeadLetter(
        topic=record.topic, partition=record.partition, offset=record.offset,
        source_topic=why.get(ORIGINAL_TOPIC, ""), source_partition=why.get(ORIGINAL_PARTITION, ""),
        source_offset=why.get(ORIGINAL_OFFSET, ""), reason=why.get(REASON, ""),
        detail=why.get(DETAIL, ""), consumer=why.get(CONSUMER, ""),
        rejected_at=why.get(REJECTED_AT, ""), event_type=attributes.get("ce_type", ""),
        event_id=attributes.get("ce_id", ""), size=len(record.value or b""))


def summary(letters: list[DeadLetter]) -> Counter[tuple[str, str, str]]:
    """How many per (topic, reason, consumer): what an operator scans first."""
    return Counter((letter.topic, letter.reason, letter.consumer) for letter in letters)


def read_all(kafka: KafkaSettings, topics: tuple[str, ...] = DEAD_LETTER_TOPICS,
             *, timeout_s: float = 30.0) -> list[IncomingRecord]:
    """Every record of `topics` up to the end offsets taken now."""
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers,
                             enable_auto_commit=False, group_id=None,
                             client_id="haven-dlq-reader")
    try:
        known = consumer.topics()
        partitions = [TopicPartition(topic, p) for topic in topics if topic in known
                      for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return []
        ends = consumer.end_offsets(partitions)
        starts = consumer.beginning_offsets(partitions)
        wanted = {tp: end for tp, end in ends.items() if end > starts[tp]}
        if not wanted:
            return []
        consumer.assign(list(wanted))
        consumer.seek_to_beginning(*wanted)
        records: list[IncomingRecord] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end for tp, end in wanted.items()):
            if time.monotonic() > deadline:
                raise TimeoutError("the dead-letter topics could not be read in time")
            for batch in consumer.poll(timeout_ms=500).values():
                records += [_incoming(m) for m in batch
                            if m.offset < wanted[TopicPartition(m.topic, m.partition)]]
        return records
    finally:
        consumer.close()


def read_one(kafka: KafkaSettings, address: str, *, timeout_s: float = 30.0) -> IncomingRecord:
    """The dead letter at `topic:partition:offset`; LookupError when there is none."""
    topic, partition, offset = parse_address(address)
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers,
                             enable_auto_commit=False, group_id=None,
                             client_id="haven-dlq-reader")
    try:
        tp = TopicPartition(topic, partition)
        if partition not in (consumer.partitions_for_topic(topic) or ()):
            raise LookupError(f"no partition {partition} in {topic}")
        if not consumer.beginning_offsets([tp])[tp] <= offset < consumer.end_offsets([tp])[tp]:
            raise LookupError(f"no record at offset {offset} of {topic}:{partition}")
        consumer.assign([tp])
        consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                for m in batch:
                    if m.offset == offset:
                        return _incoming(m)
        raise LookupError(f"record {address} could not be read in time")
    finally:
        consumer.close()


def _incoming(message: Any) -> IncomingRecord:
    return IncomingRecord(topic=message.topic, partition=message.partition,
                          offset=message.offset, key=message.key, value=message.value,
                          headers=list(message.headers or []))


def parse_address(address: str) -> tuple[str, int, int]:
    """`topic:partition:offset`, e.g. `referral.submitted.dlq:2:17`; ValueError with why."""
    topic, _, rest = address.rpartition(":")
    topic, _, partition = topic.rpartition(":")
    if not topic.endswith(".dlq") or not partition.isdigit() or not rest.isdigit():
        raise ValueError(f"{address!r} is not TOPIC.dlq:PARTITION:OFFSET "
                         "(as `haven dlq list --each` prints it)")
    return topic, int(partition), int(rest)


def replay(kafka: KafkaSettings, record: IncomingRecord) -> tuple[str, int, int]:
    """Send the dead letter's original record to its source topic; where it landed."""
    letter = describe(record)
    if not letter.source_topic or dead_letter_name(letter.source_topic) != record.topic:
        raise ValueError(f"{letter.address} does not say which topic it came from")
    original = [(name, value) for name, value in record.headers if name not in DLQ_HEADERS]
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all",
                             enable_idempotence=True, client_id="haven-dlq-replay")
    try:
        # The source partition is kept: per-referral order holds within a partition.
        metadata = producer.send(letter.source_topic, key=record.key or None,
                                 value=record.value, headers=original,
                                 partition=int(letter.source_partition)
                                 if letter.source_partition.isdigit() else None
                                 ).get(timeout=30)
    finally:
        producer.close()
    return letter.source_topic, metadata.partition, metadata.offset
