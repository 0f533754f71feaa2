"""A consumer dead-letters what it cannot trust, says why, and keeps consuming.

The broken records are signed by a legitimate producer (intake's key) unless the
point is the signature, so each reaches the check it is meant to fail.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared import dead_letters, topics
from shared.envelope import CloudEvent
from shared.events import MatchingProfile, ReferralSubmitted
from shared.events.vocabulary import ServiceType, Urgency
from shared.identity import service_codec
from shared.kafka import EventPublisher, create_producer
from shared.recipients import INTAKE
from shared.records import OutgoingRecord, RecordCodec
from shared.settings import KafkaSettings, RuntimeSettings
from tests.support.kafka import end_offsets, header, raw_producer, read_until
from tests.support.matching_run import isolated_matching_group
from tests.support.processes import ServiceProcess


def _valid_referral() -> ReferralSubmitted:
    profile = MatchingProfile(needs=[ServiceType.EMERGENCY_SHELTER], urgency=Urgency.TONIGHT,
                              age_min=25, age_max=30, region="north")
    return ReferralSubmitted(referral_id=uuid.uuid4(), outreach_organization_id=uuid.uuid4(),
                             submitted_at=datetime.now(UTC), profile=profile)


def _broken_records(codec: RecordCodec, sealed: object, probe: ReferralSubmitted
                    ) -> tuple[list[OutgoingRecord], dict[str, OutgoingRecord]]:
    """The probe's grants, and one record per way of being wrong, keyed by expected reason."""
    *grants, good = codec.encode_all(probe)
    unsigned = [(k, v) for k, v in good.headers if not k.startswith("haven_sig")]

    def resigned(headers: list[tuple[str, bytes]], value: bytes) -> OutgoingRecord:
        bare = [(k, v) for k, v in headers if not k.startswith("haven_sig")]
        return codec.signed(replace(good, headers=bare, value=value))

    def with_headers(**changes: bytes) -> list[tuple[str, bytes]]:
        renamed = {k.replace("_", "-") if k == "content_type" else k: v
                   for k, v in changes.items()}
        return [(k, renamed.get(k, v)) for k, v in unsigned]

    body = probe.model_dump(mode="json")
    body["profile"]["age_min"] = -4
    attributes = CloudEvent.from_headers(unsigned)
    invalid = sealed.encode(body, attributes)  # type: ignore[attr-defined]
    grants += [codec.signed(grant) for grant in invalid.grants]
    return grants, {
        "bad-signature": replace(good, headers=unsigned),
        "missing-attribute": resigned([h for h in unsigned if h[0] != "ce_type"], good.value),
        "unknown-type": resigned(with_headers(ce_type=b"org.haven.nothing.v9",
                                              content_type=b"application/json"), b"{}"),
        "not-sealed": resigned(with_headers(content_type=b"application/json"),
                               json.dumps(probe.model_dump(mode="json")).encode()),
        "invalid-payload": resigned(unsigned, invalid.value),
        "malformed-payload": resigned(
            with_headers(ce_type=b"org.haven.capacity.updated.v1",
                         content_type=b"application/json"), b"\x00not json"),
    }


@pytest.mark.slow
def test_matching_routes_bad_records_to_the_dlq_and_goes_on(
    kafka_broker: KafkaSettings, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    codec, sealed, _ = service_codec(INTAKE, source="/haven/intake",
                                     runtime=RuntimeSettings(var_dir=tmp_path), kafka=kafka_broker)
    dlq_start = end_offsets(bootstrap, topics.REFERRAL_SUBMITTED.dead_letter)
    status_start = end_offsets(bootstrap, topics.REFERRAL_STATUS.name)
    # A group of its own: the default one would first work through other tests' referrals.
    matching = ServiceProcess("services.matching", log_file=tmp_path / "matching.log",
                              env={"HAVEN_VAR_DIR": str(tmp_path),
                                   "HAVEN_MATCHING_APP_ID": isolated_matching_group(
                                       kafka_broker)})
    try:
        matching.wait_for_log("Worker ready")
        matching.wait_for_log("grants caught up", timeout_s=180)
        probe = _valid_referral()
        key = str(probe.referral_id).encode()
        publisher = EventPublisher(create_producer(kafka_broker, client_id="t"), codec)
        grants, broken = _broken_records(codec, sealed, probe)
        for grant in grants:
            publisher.send(grant).get(timeout=30)
        producer = raw_producer(bootstrap)
        for record in broken.values():
            producer.send(topics.REFERRAL_SUBMITTED.name, key=key, value=record.value,
                          headers=record.headers)
        producer.flush()
        for record in codec.encode_all(probe):
            publisher.send(record).get(timeout=30)
        publisher.close()
        referral = str(probe.referral_id)
        statuses = read_until(bootstrap, topics.REFERRAL_STATUS.name, start=status_start,
                              done=lambda rs: any(header(r, "ce_subject") == referral for r in rs))
        letters = read_until(bootstrap, topics.REFERRAL_SUBMITTED.dead_letter, start=dlq_start,
                             done=lambda rs: len([r for r in rs if r.key == key]) >= len(broken))
    finally:
        matching.stop()
    assert any(header(r, "ce_subject") == referral for r in statuses), matching.tail()
    ours = [dead_letters.reason_of(list(r.headers)) for r in letters if r.key == key]
    assert sorted(d[dead_letters.REASON] for d in ours) == sorted(broken)
    for details in ours:
        assert details[dead_letters.ORIGINAL_TOPIC] == topics.REFERRAL_SUBMITTED.name
        assert details[dead_letters.CONSUMER] == "matching"
        assert int(details[dead_letters.ORIGINAL_OFFSET]) >= 0
    invalid = next(d for d in ours if d[dead_letters.REASON] == "invalid-payload")
    assert invalid[dead_letters.DETAIL] == "profile.age_min: greater_than_equal"
