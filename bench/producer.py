"""The broker's own producer limit beside Haven's producer path, same records, same run.

Kafka's ProducerPerformance (Java, from kafka-tools) sets the ceiling for 1 KB
records with acks=all on this machine right now; Haven's figure is only meaningful
as a fraction of it, because absolute numbers move with the machine's load.
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from deploy.local.broker import BrokerConfig, fetch
from shared.events import OfferDeclined
from shared.events.vocabulary import DeclineReason
from shared.kafka import EventPublisher, create_producer, ensure_topics
from shared.records import RecordCodec
from shared.settings import KafkaSettings
from shared.topics import TopicSpec

RECORD_SIZE = 1024
BENCH_TOPIC = TopicSpec("bench.producer", "random", "benchmark sink", partitions=3,
                        retention_ms=60 * 60 * 1000)
_JAVA_SUMMARY = re.compile(r"(\d+) records sent, ([\d.]+) records/sec .*?([\d.]+) ms avg latency")


def java_producer_performance(config: BrokerConfig, records: int) -> dict[str, float]:
    """Kafka's own tool: idempotent, acks=all, 1 KB records, no throttle."""
    libs = fetch(config)
    command = [
        "java", "-Xmx512m", "-cp", f"{libs}/*", "org.apache.kafka.tools.ProducerPerformance",
        "--topic", BENCH_TOPIC.name, "--num-records", str(records),
        "--record-size", str(RECORD_SIZE), "--throughput", "-1", "--producer-props",
        f"bootstrap.servers={config.bootstrap}", "acks=all", "enable.idempotence=true",
        "linger.ms=5",
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = _JAVA_SUMMARY.search(output.strip().splitlines()[-1])
    if match is None:
        raise RuntimeError(f"unexpected ProducerPerformance output:\n{output[-2000:]}")
    return {"records": float(match[1]), "records_per_s": float(match[2]),
            "avg_latency_ms": float(match[3])}


def _sized_event() -> OfferDeclined:
    """An event whose encoded value is about RECORD_SIZE bytes, like the Java records."""
    probe = OfferDeclined(offer_id=uuid.uuid4(), referral_id=uuid.uuid4(),
                          organization_id=uuid.uuid4(), reason=DeclineReason.AT_CAPACITY,
                          answered_at=datetime.now(UTC))
    overhead = len(RecordCodec(source="/bench").encode(probe).value)
    return probe.model_copy(update={"note": "x" * max(0, RECORD_SIZE - overhead)})


def haven_producer_path(settings: KafkaSettings, records: int) -> dict[str, float]:
    """Encode each event through the codec and send it through the shared producer factory."""
    codec = RecordCodec(source="/bench")
    publisher = EventPublisher(create_producer(settings, client_id="bench"), codec)
    event = _sized_event()
    started = time.perf_counter()
    for _ in range(records):
        record = codec.encode(event)
        publisher.send(replace(record, topic=BENCH_TOPIC.name))
    publisher.flush()
    elapsed = time.perf_counter() - started
    publisher.close()
    return {"records": float(records), "records_per_s": records / elapsed,
            "value_bytes": float(len(codec.encode(event).value))}


def kafka_python_raw(settings: KafkaSettings, records: int) -> dict[str, float]:
    """The same producer with ready-made bytes: what the client costs without our codec."""
    record = RecordCodec(source="/bench").encode(_sized_event())
    kafka_producer = create_producer(settings, client_id="bench-raw")
    started = time.perf_counter()
    for _ in range(records):
        kafka_producer.send(BENCH_TOPIC.name, key=record.key, value=record.value,
                            headers=record.headers)
    kafka_producer.flush()
    elapsed = time.perf_counter() - started
    kafka_producer.close()
    return {"records": float(records), "records_per_s": records / elapsed}


def run(settings: KafkaSettings, config: BrokerConfig, records: int) -> dict[str, Any]:
    """Both figures and their ratio; the ratio is what a baseline comparison looks at."""
    ensure_topics(settings, (BENCH_TOPIC,))
    java = java_producer_performance(config, records)
    raw = kafka_python_raw(settings, records)
    haven = haven_producer_path(settings, records)
    return {
        "kafka_producer_performance": java, "kafka_python_same_bytes": raw,
        "haven_producer_path": haven,
        "ratio_haven_to_kafka": haven["records_per_s"] / java["records_per_s"],
        "ratio_kafka_python_to_kafka": raw["records_per_s"] / java["records_per_s"],
        "ratio_haven_to_kafka_python": haven["records_per_s"] / raw["records_per_s"],
    }
