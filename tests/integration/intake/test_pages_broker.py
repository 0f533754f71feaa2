"""The dashboard's broker numbers against the real broker: dead letters and consumer lag."""

from __future__ import annotations

import uuid

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from services.intake.pages.broker_stats import read
from shared.kafka import ensure_topics
from shared.settings import KafkaSettings
from shared.topics import TopicSpec
from tests.support.kafka import raw_producer


def test_dead_letters_are_counted_per_source_and_lag_per_group(
        kafka_broker: KafkaSettings) -> None:
    source = f"pages-test-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_broker, (TopicSpec(f"{source}.dlq", "id", "test dead letters",
                                           partitions=1),))
    producer = raw_producer(kafka_broker.bootstrap_servers)
    for index in range(3):
        producer.send(f"{source}.dlq", key=b"k", value=b"rejected %d" % index)
    producer.flush()
    producer.close()
    group = f"pages-test-group-{uuid.uuid4().hex[:8]}"
    consumer = KafkaConsumer(bootstrap_servers=kafka_broker.bootstrap_servers, group_id=group,
                             enable_auto_commit=False)
    consumer.commit({TopicPartition(f"{source}.dlq", 0): OffsetAndMetadata(1, "", -1)})
    consumer.close()
    try:
        numbers = read(kafka_broker, {"test": group, "idle": f"never-{uuid.uuid4().hex[:6]}"})
    finally:
        admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap_servers)
        admin.delete_topics([f"{source}.dlq"])  # keep the shared test broker's list clean
        admin.close()
    assert (source, 3) in numbers.dead_letters
    assert dict(numbers.lag) == {"test": 2, "idle": None}
    assert numbers.alerts >= 0
