"""The record codec: what it accepts, and the reasons it gives for what it refuses."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.events import (
    ContactDetails,
    Event,
    MatchingProfile,
    ReferralSubmitted,
    register_upcaster,
    registered_types,
)
from shared.events.vocabulary import ServiceType, Urgency
from shared.records import IncomingRecord, OutgoingRecord, RecordCodec, RejectedRecord

CANARY_PHONE = "+00-CANARY-PHONE-0000"


def _referral() -> ReferralSubmitted:
    return ReferralSubmitted(
        referral_id=uuid.uuid4(), outreach_organization_id=uuid.uuid4(),
        submitted_at=datetime.now(UTC),
        profile=MatchingProfile(needs=[ServiceType.LEGAL_AID], urgency=Urgency.PLANNED,
                                age_min=30, age_max=40, region="south"),
        contact=ContactDetails(phone=CANARY_PHONE),
    )


def _consumed(record: OutgoingRecord, **changes: Any) -> IncomingRecord:
    incoming = IncomingRecord(topic=record.topic, partition=0, offset=7, key=record.key,
                              value=record.value, headers=record.headers)
    return replace(incoming, **changes)


def _reason(record: IncomingRecord) -> RejectedRecord:
    with pytest.raises(RejectedRecord) as caught:
        RecordCodec(source="/t").decode(record)
    return caught.value


def test_encode_decode_round_trip() -> None:
    codec = RecordCodec(source="/haven/tests")
    event = _referral()
    record = codec.encode(event)
    assert record.topic == "referral.submitted"
    assert record.key == str(event.referral_id).encode()
    envelope = codec.decode(_consumed(record))
    assert envelope.event == event
    assert envelope.attributes.type == "org.haven.referral.submitted.v1"
    assert envelope.attributes.subject == str(event.referral_id)


def test_reaction_continues_the_trace() -> None:
    codec = RecordCodec(source="/haven/tests")
    cause = codec.decode(_consumed(codec.encode(_referral()))).attributes
    reaction = codec.decode(_consumed(codec.encode(_referral(), cause=cause))).attributes
    assert reaction.traceparent.split("-")[1] == cause.traceparent.split("-")[1]


def test_reacting_twice_to_one_cause_gives_the_same_event_id() -> None:
    codec = RecordCodec(source="/haven/tests")
    cause = codec.decode(_consumed(codec.encode(_referral()))).attributes
    reaction = _referral()
    first = codec.decode(_consumed(codec.encode(reaction, cause=cause))).attributes
    again = codec.decode(_consumed(codec.encode(reaction, cause=cause))).attributes
    other = codec.decode(_consumed(codec.encode(reaction, cause=cause,
                                                discriminator="b"))).attributes
    assert first.id == again.id != other.id
    assert codec.encode(reaction).headers != codec.encode(reaction).headers


def test_invalid_payload_detail_names_fields_but_never_values() -> None:
    record = RecordCodec(source="/t").encode(_referral())
    body = json.loads(record.value)
    body["contact"]["phone"] = CANARY_PHONE * 10  # too long: the value must not be echoed
    body["profile"]["age_min"] = -1
    rejection = _reason(_consumed(record, value=json.dumps(body).encode()))
    assert rejection.reason == "invalid-payload"
    assert "profile.age_min: greater_than_equal" in rejection.detail
    assert "contact.phone: string_too_long" in rejection.detail
    assert "CANARY" not in str(rejection)


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"value": None}, "missing-payload"),
     ({"value": b"[1, 2]"}, "malformed-payload"),
     ({"value": b"\xff"}, "malformed-payload"),
     ({"headers": []}, "missing-attribute")],
)
def test_refusals_have_reason_codes(change: dict[str, Any], reason: str) -> None:
    record = RecordCodec(source="/t").encode(_referral())
    assert _reason(_consumed(record, **change)).reason == reason


def test_unknown_type_and_foreign_content_type_and_subject_mismatch() -> None:
    record = RecordCodec(source="/t").encode(_referral())

    def with_header(name: str, value: bytes) -> IncomingRecord:
        return _consumed(record, headers=[(k, value if k == name else v)
                                          for k, v in record.headers])

    assert _reason(with_header("ce_type", b"org.haven.x.v1")).reason == "unknown-type"
    assert _reason(with_header("content-type", b"text/plain")).reason == (
        "unsupported-content-type")
    assert _reason(with_header("ce_subject", b"other")).reason == "subject-mismatch"


def test_upcaster_turns_an_old_version_into_the_current_one() -> None:
    record = RecordCodec(source="/t").encode(_referral())
    body = json.loads(record.value)
    body["outreach_org"] = body.pop("outreach_organization_id")

    def v0_to_v1(old: dict[str, Any]) -> dict[str, Any]:
        new = dict(old)
        new["outreach_organization_id"] = new.pop("outreach_org")
        return new

    register_upcaster("org.haven.referral.submitted.v0", "org.haven.referral.submitted.v1",
                      v0_to_v1)
    old = _consumed(record, value=json.dumps(body).encode(),
                    headers=[(k, b"org.haven.referral.submitted.v0" if k == "ce_type" else v)
                             for k, v in record.headers])
    assert isinstance(RecordCodec(source="/t").decode(old).event, ReferralSubmitted)


def test_every_event_type_is_versioned_and_routed_to_a_catalog_topic() -> None:
    from shared.topics import BY_NAME, DATA_TOPICS, NOTIFICATION_RETRY_TIERS, REFERRAL_KEYS

    types: dict[str, type[Event]] = registered_types()
    for name, cls in types.items():
        assert name.rsplit(".", 1)[-1].startswith("v"), name
        assert cls.topic.name in BY_NAME, name
    carried = {cls.topic.name for cls in types.values()}
    # A retry goes to the topic of its attempt (NotificationRetryScheduled.destination).
    carried |= {tier.name for tier in NOTIFICATION_RETRY_TIERS}
    # referral.keys carries key grants, not events (docs/crypto.md).
    assert carried == {spec.name for spec in DATA_TOPICS} - {REFERRAL_KEYS.name}
