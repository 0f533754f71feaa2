"""Dead letters, alerts and consumer lag for the admin dashboard, read from the broker.

Counts are the records each topic retains now (end minus beginning offsets), so
they fall again when retention removes old dead letters. The figures are cached
for half a minute: the dashboard must stay fast, and must still open (without
these numbers) when the broker cannot be reached.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from shared import topics
from shared.settings import KafkaSettings

CACHE_SECONDS = 30.0
TIMEOUT_MS = 2_000


@dataclass(frozen=True)
class BrokerNumbers:
    """Per source topic with dead letters; alerts retained; lag per consumer group."""

    dead_letters: list[tuple[str, int]]
    alerts: int
    lag: list[tuple[str, int | None]]


def _retained(consumer: KafkaConsumer, names: list[str]) -> dict[str, int]:
    partitions = [TopicPartition(name, p) for name in names
                  for p in consumer.partitions_for_topic(name) or []]
    if not partitions:
        return {}
    begin, end = consumer.beginning_offsets(partitions), consumer.end_offsets(partitions)
    counts: dict[str, int] = {}
    for tp in partitions:
        counts[tp.topic] = counts.get(tp.topic, 0) + end[tp] - begin[tp]
    return counts


def _lag(admin: KafkaAdminClient, consumer: KafkaConsumer, group: str) -> int | None:
    """Records a group has not yet processed, over every partition it committed; None if
    the group never committed anything."""
    committed = admin.list_group_offsets({group: None}).get(group, {})
    if not committed:
        return None
    ends = consumer.end_offsets(list(committed))
    lag: int = sum(max(0, ends[tp] - meta.offset) for tp, meta in committed.items()
               if meta.offset >= 0)
    return lag


def read(kafka: KafkaSettings, groups: dict[str, str]) -> BrokerNumbers:
    """Ask the broker now; raises when it cannot be reached."""
    common = {"bootstrap_servers": kafka.bootstrap_servers, "request_timeout_ms": 5_000,
              "bootstrap_timeout_ms": TIMEOUT_MS}
    consumer = KafkaConsumer(enable_auto_commit=False, client_id="haven-dashboard", **common)
    admin = KafkaAdminClient(client_id="haven-dashboard", **common)
    try:
        names = sorted(t for t in consumer.topics() if t.endswith(".dlq"))
        dead = _retained(consumer, names)
        alerts = _retained(consumer, [topics.NOTIFICATION_ALERTS.name])
        return BrokerNumbers(
            dead_letters=[(name.removesuffix(".dlq"), count)
                          for name, count in sorted(dead.items()) if count],
            alerts=sum(alerts.values()),
            lag=[(label, _lag(admin, consumer, group)) for label, group in groups.items()])
    finally:
        consumer.close()
        admin.close()


class CachedBrokerNumbers:
    """`read` at most once per CACHE_SECONDS; None while the broker is unreachable."""

    def __init__(self, kafka: KafkaSettings, groups: dict[str, str]) -> None:
        self._kafka = kafka
        self._groups = groups
        self._lock = threading.Lock()
        self._value: BrokerNumbers | None = None
        self._at = float("-inf")

    def get(self) -> BrokerNumbers | None:
        with self._lock:
            if time.monotonic() - self._at > CACHE_SECONDS:
                try:
                    self._value = read(self._kafka, self._groups)
                except Exception:  # kafka-python raises many unrelated types when unreachable
                    self._value = None
                self._at = time.monotonic()
            return self._value
