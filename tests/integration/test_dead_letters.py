"""A consumer dead-letters what it cannot trust, says why, and keeps consuming."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared import dead_letters, topics
from shared.events import MatchingProfile, ReferralSubmitted
from shared.events.vocabulary import ServiceType, Urgency
from shared.kafka import EventPublisher, create_producer
from shared.records import RecordCodec
from shared.settings import KafkaSettings
from tests.support.kafka import end_offsets, header, raw_producer, read_until
from tests.support.processes import ServiceProcess


def _valid_referral() -> ReferralSubmitted:
    profile = MatchingProfile(needs=[ServiceType.EMERGENCY_SHELTER], urgency=Urgency.TONIGHT,
                              age_min=25, age_max=30, region="north")
    return ReferralSubmitted(referral_id=uuid.uuid4(), outreach_organization_id=uuid.uuid4(),
                             submitted_at=datetime.now(UTC), profile=profile)


def _broken_records(valid: ReferralSubmitted) -> dict[str, tuple[bytes, list[tuple[str, bytes]]]]:
    """One record per way of being wrong, keyed by the reason we expect for it."""
    good = RecordCodec(source="/haven/tests").encode(valid)
    without_type = [(k, v) for k, v in good.headers if k != "ce_type"]
    unknown_type = [(k, b"org.haven.nothing.v9" if k == "ce_type" else v) for k, v in good.headers]
    body = json.loads(good.value)
    body["profile"]["age_min"] = -4
    return {
        "missing-attribute": (good.value, without_type),
        "unknown-type": (good.value, unknown_type),
        "invalid-payload": (json.dumps(body).encode(), good.headers),
        "malformed-payload": (b"\x00not json", good.headers),
    }


@pytest.mark.slow
def test_matching_routes_bad_records_to_the_dlq_and_goes_on(
    kafka_broker: KafkaSettings, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    dlq_start = end_offsets(bootstrap, topics.REFERRAL_SUBMITTED.dead_letter)
    status_start = end_offsets(bootstrap, topics.REFERRAL_STATUS.name)
    matching = ServiceProcess("services.matching", log_file=tmp_path / "matching.log",
                              env={"HAVEN_VAR_DIR": str(tmp_path)})
    try:
        matching.wait_for_log("Worker ready")
        probe = _valid_referral()
        key = str(probe.referral_id).encode()
        producer = raw_producer(bootstrap)
        for value, headers in _broken_records(probe).values():
            producer.send(topics.REFERRAL_SUBMITTED.name, key=key, value=value, headers=headers)
        producer.flush()
        publisher = EventPublisher(create_producer(kafka_broker, client_id="t"),
                                   RecordCodec(source="/haven/tests"))
        publisher.publish(probe)
        publisher.close()
        referral = str(probe.referral_id)
        statuses = read_until(bootstrap, topics.REFERRAL_STATUS.name, start=status_start,
                              done=lambda rs: any(header(r, "ce_subject") == referral for r in rs))
        letters = read_until(bootstrap, topics.REFERRAL_SUBMITTED.dead_letter, start=dlq_start,
                             done=lambda rs: len([r for r in rs if r.key == key]) >= 4)
    finally:
        matching.stop()
    assert any(header(r, "ce_subject") == referral for r in statuses), matching.tail()
    ours = [dead_letters.reason_of(list(r.headers)) for r in letters if r.key == key]
    assert sorted(d[dead_letters.REASON] for d in ours) == sorted(_broken_records(probe))
    for details in ours:
        assert details[dead_letters.ORIGINAL_TOPIC] == topics.REFERRAL_SUBMITTED.name
        assert details[dead_letters.CONSUMER] == "matching"
        assert int(details[dead_letters.ORIGINAL_OFFSET]) >= 0
    invalid = next(d for d in ours if d[dead_letters.REASON] == "invalid-payload")
    assert invalid[dead_letters.DETAIL] == "profile.age_min: greater_than_equal"
