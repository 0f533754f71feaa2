"""On the real broker: a forged capacity record and forged key records change nothing.

The capacity record is the reviewer's reproduction: signed by the notifier, first
`ce_type` a notifier type, last `ce_type` capacity.updated with 4,242 places. Before
the fix matching accepted it and re-emitted the figure on capacity.reservations.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared import dead_letters, topics
from shared.crypto import sign_record
from shared.envelope import CloudEvent
from shared.events import CapacityUpdated, MatchingProfile, ReferralSubmitted
from shared.events.vocabulary import ServiceType, Urgency
from shared.identity import private_store, service_codec
from shared.kafka import EventPublisher, create_producer
from shared.protection import grant_tombstone
from shared.recipients import INTAKE, MATCHING, NOTIFIER
from shared.records import OutgoingRecord
from shared.settings import KafkaSettings, RuntimeSettings
from tests.support.kafka import end_offsets, raw_producer, read_until
from tests.support.matching_run import isolated_matching_group
from tests.support.processes import ServiceProcess, wait_until


def _forged_capacity(runtime: RuntimeSettings, service_id: uuid.UUID) -> OutgoingRecord:
    event = CapacityUpdated(service_id=service_id, available=4242, maximum=4242,
                            confirmed_at=datetime.now(UTC))
    headers = CloudEvent(type="org.haven.notification.delivered.v1", source="/haven/notifier",
                         subject=str(service_id)).to_headers()
    headers.append(("ce_type", event.event_type.encode()))
    value = event.model_dump_json().encode()
    signing = private_store(runtime, NOTIFIER).active(NOTIFIER).signing
    signature = sign_record(signing, headers, str(service_id).encode(), value)
    return OutgoingRecord(topics.CAPACITY_UPDATES.name, str(service_id).encode(), value,
                          [*headers, *signature])


@pytest.mark.slow
def test_matching_dead_letters_a_notifier_signed_capacity_with_two_types(
        kafka_broker: KafkaSettings, tmp_path: Path) -> None:
    runtime = RuntimeSettings(var_dir=tmp_path)
    intake, _, _ = service_codec(INTAKE, source="/haven/intake", runtime=runtime,
                                 kafka=kafka_broker)
    service_codec(NOTIFIER, source="/haven/notifier", runtime=runtime, kafka=kafka_broker)
    forged_service, sentinel_service = uuid.uuid4(), uuid.uuid4()
    bootstrap = kafka_broker.bootstrap_servers
    reservations_start = end_offsets(bootstrap, topics.CAPACITY_RESERVATIONS.name)
    dlq_start = end_offsets(bootstrap, topics.CAPACITY_UPDATES.dead_letter)
    matching = ServiceProcess("services.matching", log_file=tmp_path / "matching.log",
                              env={"HAVEN_VAR_DIR": str(tmp_path),
                                   "HAVEN_MATCHING_APP_ID": isolated_matching_group(
                                       kafka_broker)})
    try:
        matching.wait_for_log("Worker ready")
        forged = _forged_capacity(runtime, forged_service)
        producer = raw_producer(bootstrap)
        producer.send(forged.topic, key=forged.key, value=forged.value,
                      headers=forged.headers).get(timeout=30)
        producer.close()
        # A true figure after it: once matching re-emits this one, it has judged the forgery.
        publisher = EventPublisher(create_producer(kafka_broker, client_id="t-sentinel"), intake)
        publisher.publish(CapacityUpdated(service_id=sentinel_service, available=2, maximum=3,
                                          confirmed_at=datetime.now(UTC)))
        publisher.close()
        observed = read_until(
            bootstrap, topics.CAPACITY_RESERVATIONS.name, start=reservations_start,
            done=lambda rs: any(r.key == str(sentinel_service).encode() for r in rs),
            timeout_s=120)
        letters = read_until(
            bootstrap, topics.CAPACITY_UPDATES.dead_letter, start=dlq_start,
            done=lambda rs: any(r.key == forged.key for r in rs), timeout_s=60)
    finally:
        matching.stop()
    assert any(r.key == str(sentinel_service).encode() for r in observed), matching.tail()
    assert not [r for r in observed if r.key == forged.key], "the forged figure was acted on"
    reasons = {dead_letters.reason_of(list(r.headers))[dead_letters.REASON]
               for r in letters if r.key == forged.key}
    assert "duplicate-header" in reasons, reasons


def _submission() -> ReferralSubmitted:
    return ReferralSubmitted(
        referral_id=uuid.uuid4(), outreach_organization_id=uuid.uuid4(),
        submitted_at=datetime.now(UTC),
        profile=MatchingProfile(needs=[ServiceType.MEDICAL], urgency=Urgency.TONIGHT,
                                age_min=20, age_max=22, region="north"))


@pytest.mark.slow
def test_unsigned_or_wrongly_signed_tombstones_erase_nothing(
        kafka_broker: KafkaSettings, tmp_path: Path) -> None:
    runtime = RuntimeSettings(var_dir=tmp_path)
    intake, _, _ = service_codec(INTAKE, source="/haven/intake", runtime=runtime,
                                 kafka=kafka_broker, reuse_grants=False)
    matching, _, follower = service_codec(MATCHING, source="/haven/matching", runtime=runtime,
                                          kafka=kafka_broker)
    *grants, event = intake.encode_all(_submission())
    [ours] = [g for g in grants if f"/{MATCHING}/".encode() in g.key]
    grant_id = bytes.fromhex(ours.key.decode().rsplit("/", 1)[-1])
    referral = event.key.decode()
    producer = raw_producer(kafka_broker.bootstrap_servers)
    for grant in grants:
        producer.send(grant.topic, key=grant.key, value=grant.value,
                      headers=grant.headers).get(timeout=30)
    unsigned = grant_tombstone(ours.key)
    by_matching = matching.signed(grant_tombstone(ours.key))  # a service, but not the authority
    for forged in (unsigned, by_matching):
        producer.send(forged.topic, key=forged.key, value=None,
                      headers=forged.headers).get(timeout=30)
    *planted_grants, planted_event = intake.encode_all(_submission())
    [planted] = [g for g in planted_grants if f"/{MATCHING}/".encode() in g.key]
    producer.send(planted.topic, key=planted.key, value=planted.value,
                  headers=[(n, v) for n, v in planted.headers if not n.startswith("haven_sig")]
                  ).get(timeout=30)
    planted_id = bytes.fromhex(planted.key.decode().rsplit("/", 1)[-1])
    follower.start()
    try:
        assert asyncio.run(follower.caught_up(timeout_s=180))
        assert follower.has(referral, grant_id), "a forged tombstone erased a live key"
        assert not follower.has(planted_event.key.decode(), planted_id), \
            "an unsigned grant planted a key"
        assert follower.forged >= 3
        erasure = intake.signed(grant_tombstone(ours.key))
        producer.send(erasure.topic, key=erasure.key, value=None,
                      headers=erasure.headers).get(timeout=30)
        assert wait_until(lambda: not follower.has(referral, grant_id), timeout_s=30), \
            "intake's signed tombstone must erase the key"
    finally:
        follower.stop()
        producer.close()
