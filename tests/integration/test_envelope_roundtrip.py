"""kafka-python producer -> Faust agent -> kafka-python consumer, CloudEvents intact."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from shared.envelope import CloudEvent
from shared.events import OfferAccepted
from shared.kafka import EventPublisher, create_producer, ensure_topics
from shared.records import RecordCodec
from shared.settings import KafkaSettings
from shared.topics import TopicSpec, dead_letter_name
from tests.integration.relay_app import RELAY_IN, RELAY_OUT
from tests.support.kafka import end_offsets, header, read_until
from tests.support.processes import ServiceProcess


def test_attributes_survive_a_faust_hop(kafka_broker: KafkaSettings, tmp_path: Path) -> None:
    dlq = TopicSpec(dead_letter_name(RELAY_IN.name), "as source", "relay rejects", partitions=1)
    ensure_topics(kafka_broker, (RELAY_IN, RELAY_OUT, dlq))
    start = end_offsets(kafka_broker.bootstrap_servers, RELAY_OUT.name)
    relay = ServiceProcess("tests.integration.relay_app", log_file=tmp_path / "relay.log",
                           env={"HAVEN_VAR_DIR": str(tmp_path)})
    try:
        relay.wait_for_log("Worker ready")
        codec = RecordCodec(source="/haven/tests/producer")
        event = OfferAccepted(offer_id=uuid.uuid4(), referral_id=uuid.uuid4(),
                              organization_id=uuid.uuid4(), answered_at=datetime.now(UTC))
        sent = codec.encode(event)
        publisher = EventPublisher(create_producer(kafka_broker, client_id="test"), codec)
        publisher.send(replace(sent, topic=RELAY_IN.name)).get(30)
        publisher.close()
        wanted = CloudEvent.from_headers(sent.headers)
        found = read_until(
            kafka_broker.bootstrap_servers, RELAY_OUT.name, start=start,
            done=lambda rs: any(header(r, "ce_id") == wanted.id for r in rs),
        )
    finally:
        relay.stop()
    [echoed] = [r for r in found if header(r, "ce_id") == wanted.id]
    assert CloudEvent.from_headers(echoed.headers) == wanted
    assert echoed.key == str(event.referral_id).encode()
    assert codec.decode(echoed).event == event
