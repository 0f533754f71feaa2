"""`haven topics create` makes the broker match the catalog, however often it runs."""

from __future__ import annotations

import uuid

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from shared.kafka import ensure_topics, topic_config
from shared.settings import KafkaSettings
from shared.topics import CATALOG, TopicSpec


def _admin(settings: KafkaSettings) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)


def test_second_run_changes_nothing_and_broker_matches_catalog(
    kafka_broker: KafkaSettings,
) -> None:
    ensure_topics(kafka_broker)
    report = ensure_topics(kafka_broker)
    assert report.created == [] and report.updated == []
    assert sorted(report.unchanged) == sorted(spec.name for spec in CATALOG)
    admin = _admin(kafka_broker)
    try:
        described = {t["name"]: t for t in admin.describe_topics([s.name for s in CATALOG])}
        for spec in CATALOG:
            assert len(described[spec.name]["partitions"]) == spec.partitions, spec.name
            resource = ConfigResource(ConfigResourceType.TOPIC, spec.name)
            config = topic_config(admin.describe_configs([resource]), spec.name)
            assert config["cleanup.policy"] == spec.cleanup, spec.name
    finally:
        admin.close()


def test_drifted_topic_is_brought_back(kafka_broker: KafkaSettings) -> None:
    spec = TopicSpec(f"test.drift.{uuid.uuid4().hex[:8]}", "id", "drift test", partitions=2,
                     retention_ms=3_600_000)
    assert ensure_topics(kafka_broker, (spec,)).created == [spec.name]
    admin = _admin(kafka_broker)
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, spec.name,
                                  configs={"cleanup.policy": "delete", "retention.ms": "60000"})
        admin.alter_configs([resource])
        grown = TopicSpec(spec.name, spec.key, spec.purpose, partitions=4,
                          retention_ms=spec.retention_ms)
        assert ensure_topics(kafka_broker, (grown,)).updated == [spec.name]
        described = admin.describe_topics([spec.name])[0]
        config = topic_config(
            admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, spec.name)]),
            spec.name)
    finally:
        admin.close()
    assert len(described["partitions"]) == 4
    assert config["retention.ms"] == "3600000"
    assert ensure_topics(kafka_broker, (grown,)).unchanged == [spec.name]
