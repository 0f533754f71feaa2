"""kafka-python at the edges: the producer every service uses, and topic administration.

One factory so that acks=all and idempotence are never forgotten by a new caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaProducer
from kafka.admin import (
    ConfigResource,
    ConfigResourceType,
    KafkaAdminClient,
    NewPartitions,
    NewTopic,
)

from shared.events import Event
from shared.partitioning import ReferralPartitioner
from shared.records import OutgoingRecord, RecordCodec
from shared.settings import KafkaSettings
from shared.topics import CATALOG, TopicSpec


def create_producer(settings: KafkaSettings, *, client_id: str) -> KafkaProducer:
    """acks=all plus idempotence: a retried send can neither be lost nor duplicated."""
    return KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=settings.linger_ms,
        batch_size=settings.batch_size,
        request_timeout_ms=settings.request_timeout_ms,
        max_in_flight_requests_per_connection=5,
        partitioner=ReferralPartitioner(),
    )


class EventPublisher:
    """Publishes events through one codec and one producer; keys are aggregate ids."""

    def __init__(self, producer: KafkaProducer, codec: RecordCodec) -> None:
        self._producer = producer
        self.codec = codec

    def publish(self, event: Event) -> None:
        """Send and wait for the broker's acknowledgement (callers need it to be durable)."""
        self.send(self.codec.encode(event)).get(timeout=30)

    def send(self, record: OutgoingRecord) -> Any:
        """Queue a ready record and return the client's future (for batching callers)."""
        return self._producer.send(
            record.topic, key=record.key, value=record.wire_value, headers=record.headers
        )

    def flush(self) -> None:
        self._producer.flush()

    def close(self) -> None:
        self._producer.close()


@dataclass
class TopicReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def ensure_topics(
    settings: KafkaSettings, catalog: tuple[TopicSpec, ...] = CATALOG
) -> TopicReport:
    """Make the broker match the catalog; safe to run any number of times."""
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers,
                             client_id="haven-topics")
    try:
        return _reconcile(admin, catalog, settings.replication_factor)
    finally:
        admin.close()


def _reconcile(admin: KafkaAdminClient, catalog: tuple[TopicSpec, ...], rf: int) -> TopicReport:
    report = TopicReport()
    described = admin.describe_topics([spec.name for spec in catalog])
    existing = {topic["name"]: topic for topic in described if topic["error_code"] == 0}
    missing = [s for s in catalog if s.name not in existing]
    if missing:
        admin.create_topics([NewTopic(s.name, s.partitions, rf, topic_configs=s.config())
                             for s in missing])
        report.created = [s.name for s in missing]
    for spec in (s for s in catalog if s.name in existing):
        changed = _grow_partitions(admin, spec, len(existing[spec.name]["partitions"]))
        changed = _align_config(admin, spec) or changed
        (report.updated if changed else report.unchanged).append(spec.name)
    return report


def _grow_partitions(admin: KafkaAdminClient, spec: TopicSpec, current: int) -> bool:
    """Partitions only grow: shrinking would reshuffle keys and break per-key order."""
    if current >= spec.partitions:
        return False
    admin.create_partitions({spec.name: NewPartitions(total_count=spec.partitions)})
    return True


def _align_config(admin: KafkaAdminClient, spec: TopicSpec) -> bool:
    resource = ConfigResource(ConfigResourceType.TOPIC, spec.name)
    current = topic_config(admin.describe_configs([resource]), spec.name)
    wanted = spec.config()
    if all(current.get(name) == value for name, value in wanted.items()):
        return False
    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, spec.name, configs=wanted)])
    return True


def topic_config(described: dict[str, Any], topic: str) -> dict[str, str]:
    """Flatten kafka-python's DescribeConfigs answer into name -> value for one topic."""
    entries = described.get("topic", {}).get(topic, {})
    return {name: str(entry["value"]) for name, entry in entries.items()}


class BrokerProbe:
    """Answers 'can we reach the broker right now?' for readiness checks, within a deadline."""

    def __init__(self, settings: KafkaSettings, *, timeout_ms: int = 3_000) -> None:
        self._settings = settings
        self._timeout_ms = timeout_ms

    def ready(self) -> bool:
        """True when the broker returns cluster metadata with at least one broker."""
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self._settings.bootstrap_servers,
                request_timeout_ms=self._timeout_ms, client_id="haven-readiness",
            )
        except Exception:  # kafka-python raises several unrelated types when unreachable
            return False
        try:
            return bool(admin.describe_cluster().get("brokers"))
        except Exception:
            return False
        finally:
            admin.close()
