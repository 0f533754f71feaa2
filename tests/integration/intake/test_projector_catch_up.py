"""Intake's watch waits for intake's own view: the projector says when it has read
everything, and until then the watch neither sends again nor alerts (issue 18).

In a kill loop the watch sent 210 of 249 submissions again because intake, restarted,
had not yet read matching's answers; the answers were there.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic

from services.intake.projector import _read_to_the_end
from services.intake.watch.rules import WatchPolicy
from services.intake.watch.watchdog import Watchdog
from shared.settings import KafkaSettings
from tests.support.intake import referral_body, running_intake
from tests.support.kafka import raw_producer
from tests.support.pages import engine, vault


def test_a_consumer_has_read_to_the_end_only_once_it_has(kafka_broker: KafkaSettings) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = f"test-catch-up-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    admin.close()
    producer = raw_producer(bootstrap)
    for index in range(5):
        producer.send(topic, value=b"x", partition=index % 2).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        assert not _read_to_the_end(consumer), "nothing assigned yet"
        consumer.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
        consumer.seek_to_beginning()
        assert not _read_to_the_end(consumer)
        read = 0
        for _ in range(40):
            read += sum(len(batch) for batch in consumer.poll(timeout_ms=250).values())
            if read >= 5:
                break
        assert read == 5
        assert _read_to_the_end(consumer)
    finally:
        consumer.close()


def test_the_watch_does_nothing_while_intakes_view_is_behind(
        kafka_broker: KafkaSettings, database_url: str, tmp_path: Path) -> None:
    policy = WatchPolicy(silent_after=timedelta(seconds=1), alert_after=timedelta(seconds=2))
    later = datetime.now(UTC) + timedelta(minutes=10)  # the submission is long silent by then
    view: list[datetime | None] = [None]
    with running_intake(var_dir=tmp_path, database_url=database_url,
                        kafka=kafka_broker) as intake:
        answer = intake.client.post("/api/v1/referrals", json=referral_body(),
                                    headers=intake.members["outreach"].headers)
        assert answer.status_code == 201, answer.text
        watchdog = Watchdog(engine(intake), policy, vault=vault(intake), interval_s=1,
                            clock=lambda: later, view_current_since=lambda: view[0])
        assert watchdog.watch_once() == [], "catching up: no round"
        view[0] = later - timedelta(seconds=0.5)  # caught up half a second ago
        assert watchdog.watch_once() == [], "silent only since the view is current"
        view[0] = later - timedelta(seconds=1)
        actions = watchdog.watch_once()
        assert [(str(a.referral_id), a.step) for a in actions] == [
            (answer.json()["id"], "resend")]
