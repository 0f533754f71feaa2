"""Canary values: obviously fake personal data whose bytes must never show up in the clear."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition


@dataclass(frozen=True)
class Canaries:
    name: str
    phone: str
    email: str

    @classmethod
    def fresh(cls) -> Canaries:
        tag = uuid.uuid4().hex[:8]
        digits = str(int(tag, 16) % 10**9).zfill(9)
        return cls(name=f"CANARY-NAME-{tag}", phone=f"+00 {digits}",
                   email=f"canary.{tag}@example.invalid")

    def needles(self) -> list[bytes]:
        """Every form a value could leak in: as typed, and the phone without spaces."""
        return [self.name.encode(), self.phone.encode(), self.phone.replace(" ", "").encode(),
                self.phone.split(" ")[1].encode(), self.email.encode()]


def found_in(blobs: Iterable[tuple[str, bytes]], canaries: Canaries) -> list[str]:
    """Where (by label) any canary occurs in the given byte blobs."""
    return [label for label, blob in blobs for needle in canaries.needles() if needle in blob]


def every_record(bootstrap: str) -> Iterable[tuple[str, bytes]]:
    """Keys, header names and values, and values of every record of every topic.

    Only `bench.*` is skipped: benchmark sinks hold synthetic filler written by
    bench/, never by a service, and can hold millions of records.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        topics = sorted(t for t in consumer.topics() if not t.startswith(("__", "bench.")))
        partitions = [TopicPartition(t, p) for t in topics
                      for p in consumer.partitions_for_topic(t) or []]
        ends = consumer.end_offsets(partitions)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            for tp, batch in consumer.poll(timeout_ms=1000).items():
                for message in batch:
                    label = f"{tp.topic}/{tp.partition}@{message.offset}"
                    yield f"{label} key", message.key or b""
                    yield f"{label} value", message.value or b""
                    for name, value in message.headers or []:
                        yield f"{label} header {name}", name.encode() + b"=" + (value or b"")
                    if message.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
    finally:
        consumer.close()


def every_file(*folders: Path) -> Iterable[tuple[str, bytes]]:
    """Every file under the folders: logs, databases and their write-ahead logs."""
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                yield str(path), path.read_bytes()
