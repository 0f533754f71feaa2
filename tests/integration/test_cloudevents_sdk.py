"""Every Haven record is a CloudEvent to other tools: the official CloudEvents Python SDK's
Kafka binding (binary mode) reads one record of every event type off the real broker
into an event with the same id, type, source, subject, time and data content type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from shared.crypto import FileKeyStore, MemoryKeyRing, PublicKeys
from shared.envelope import JSON_CONTENT_TYPE, CloudEvent
from shared.events import registered_types
from shared.kafka import create_producer, ensure_topics
from shared.protection import protected_codec
from shared.recipients import SERVICES, producer_of
from shared.records import OutgoingRecord
from shared.settings import KafkaSettings
from shared.topics import TopicSpec
from tests.support.event_samples import every_event
from tests.support.kafka import end_offsets, header, read_until

SCRATCH = TopicSpec("test.cloudevents_sdk", "event key", "CloudEvents SDK interop test",
                    partitions=1)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list[OutgoingRecord]:
    """One record per event type, signed (and sealed) by its real producer's codec."""
    store = FileKeyStore(Path(tmp_path_factory.mktemp("keys")) / "store")
    for owner in SERVICES:
        store.rotate(owner)
    public = PublicKeys(store.active(owner).public_record() for owner in SERVICES)
    out = []
    for event in every_event():
        owner = producer_of(event.event_type)
        assert owner is not None, event.event_type
        codec, _ = protected_codec(source=f"/haven/{owner.split(':')[-1]}", owner=owner,
                                   keys=store, public_keys=public, ring=MemoryKeyRing())
        out += [r for r in codec.encode_all(event) if r.topic == event.topic.name]
    return out


def test_the_sdk_reads_every_event_type_off_the_broker(
        kafka_broker: KafkaSettings, records: list[OutgoingRecord]) -> None:
    assert {header(r, "ce_type") for r in records} == set(registered_types())
    ensure_topics(kafka_broker, (SCRATCH,))
    start = end_offsets(kafka_broker.bootstrap_servers, SCRATCH.name)
    producer = create_producer(kafka_broker, client_id="test-cloudevents-sdk")
    try:
        for record in records:
            producer.send(SCRATCH.name, key=record.key, value=record.value,
                          headers=list(record.headers)).get(30)
    finally:
        producer.close()
    wanted = {header(r, "ce_id") for r in records}
    found = read_until(kafka_broker.bootstrap_servers, SCRATCH.name, start=start,
                       done=lambda rs: wanted <= {header(r, "ce_id") for r in rs})
    read = [r for r in found if header(r, "ce_id") in wanted]
    assert len(read) == len(records)

    for record in read:
        ours = CloudEvent.from_headers(record.headers)
        event = from_binary(KafkaMessage(headers=dict(record.headers), key=record.key,
                                         value=record.value), JSONFormat())
        assert (event.get_id(), event.get_type(), event.get_source(), event.get_subject(),
                event.get_time(), event.get_datacontenttype(), event.get_specversion()) == (
            ours.id, ours.type, ours.source, ours.subject, ours.time, ours.datacontenttype,
            "1.0"), ours.type
        assert event.get_extension("traceparent") == ours.traceparent
        assert event.get_extension("partitionkey") == record.key.decode()
        if ours.datacontenttype == JSON_CONTENT_TYPE:
            assert event.get_data() == json.loads(record.value), ours.type
        else:
            assert event.get_data() is not None, ours.type


def test_a_record_the_sdk_writes_is_one_haven_reads(records: list[OutgoingRecord]) -> None:
    """The other direction: the SDK's binary-mode headers parse as Haven's envelope."""
    from cloudevents.core.bindings.kafka import to_binary

    record = next(r for r in records if header(r, "content-type") == JSON_CONTENT_TYPE)
    event = from_binary(KafkaMessage(headers=dict(record.headers), key=record.key,
                                     value=record.value), JSONFormat())
    message = to_binary(event, JSONFormat())
    again = CloudEvent.from_headers([(name, value) for name, value in message.headers.items()
                                     if name != "ce_partitionkey"])
    assert again == CloudEvent.from_headers(record.headers)
