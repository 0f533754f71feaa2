"""The protected codec: signed and sealed on the way out, verified and opened on the way in."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka.partitioner.default import murmur2

from shared.crypto import FileKeyStore, MemoryKeyRing, PublicKeys
from shared.events import CapacityUpdated, MatchingProfile, ReferralSubmitted
from shared.events.vocabulary import ServiceType, Urgency
from shared.partitioning import referral_partitioner
from shared.protection import accept_grant, protected_codec
from shared.records import IncomingRecord, OutgoingRecord, RecordCodec, RejectedRecord

OWNERS = ("service:intake", "service:matching", "service:notifier", "service:outsider")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[FileKeyStore, PublicKeys]:
    store = FileKeyStore(tmp_path_factory.mktemp("k") / "store")
    for owner in OWNERS:
        store.rotate(owner)
    return store, PublicKeys(store.active(o).public_record() for o in OWNERS)


def _codec(world: tuple[FileKeyStore, PublicKeys], owner: str,
           ring: MemoryKeyRing | None = None) -> RecordCodec:
    store, public = world
    codec, _ = protected_codec(source=f"/{owner}", owner=owner, keys=store, public_keys=public,
                               ring=ring or MemoryKeyRing())
    return codec


def _incoming(record: OutgoingRecord) -> IncomingRecord:
    return IncomingRecord(record.topic, 0, 0, record.key, record.value, record.headers)


def _referral() -> ReferralSubmitted:
    return ReferralSubmitted(
        referral_id=uuid.uuid4(), outreach_organization_id=uuid.uuid4(),
        submitted_at=datetime.now(UTC),
        profile=MatchingProfile(needs=[ServiceType.MEDICAL], urgency=Urgency.TONIGHT,
                                age_min=20, age_max=22, region="CANARY-REGION-q1"))


def _deliver(records: list[OutgoingRecord], world: tuple[FileKeyStore, PublicKeys],
             owner: str) -> tuple[RecordCodec, MemoryKeyRing]:
    ring = MemoryKeyRing()
    for grant in (r for r in records if r.topic == "referral.keys"):
        accept_grant(grant.key, grant.value, grant.headers, owner=owner, keys=world[0],
                     public_keys=world[1], ring=ring)
    return _codec(world, owner, ring), ring


def test_referral_event_is_sealed_signed_and_opens_for_its_readers(
    world: tuple[FileKeyStore, PublicKeys],
) -> None:
    producer = _codec(world, "service:intake")
    event = _referral()
    records = producer.encode_all(event)
    assert [r.topic for r in records] == ["referral.keys"] * 3 + ["referral.submitted"]
    assert all(b"CANARY" not in r.value for r in records)
    assert all(any(n == "haven_sig" for n, _ in r.headers) for r in records)
    for reader in ("service:matching", "service:notifier"):
        codec, _ = _deliver(records, world, reader)
        assert codec.decode(_incoming(records[-1])).event == event
    outsider, _ = _deliver(records, world, "service:outsider")
    with pytest.raises(RejectedRecord) as refused:
        outsider.decode(_incoming(records[-1]))
    assert refused.value.reason == "not-a-recipient"
    again = producer.encode_all(_referral())
    assert len(again) == 4, "a new referral gets new grants"
    unconfirmed = producer.encode_all(event)
    assert [r.key for r in unconfirmed[:-1]] == [r.key for r in records[:-1]], \
        "a reused grant travels again with each event until its publication is confirmed"
    producer.published(unconfirmed)
    same = producer.encode_all(event)
    assert len(same) == 1, "the same referral reuses this process's published grants"


def test_unsigned_forged_or_altered_records_are_rejected_with_reasons(
    world: tuple[FileKeyStore, PublicKeys],
) -> None:
    records = _codec(world, "service:intake").encode_all(_referral())
    reader, _ = _deliver(records, world, "service:matching")
    event = records[-1]
    unsigned = RecordCodec(source="/x").encode(
        CapacityUpdated(service_id=uuid.uuid4(), available=1, maximum=2,
                        confirmed_at=datetime.now(UTC)))
    stranger = FileKeyStore(Path(world[0].directory.parent / "stranger"))
    stranger.rotate("service:intake")
    forged, _ = protected_codec(source="/x", owner="service:intake", keys=stranger,
                                public_keys=world[1], ring=MemoryKeyRing())
    cases = {
        "unsigned": _incoming(unsigned),
        "altered value": _incoming(replace(event, value=event.value[:-1] + b"\x00")),
        "forged signer": _incoming(forged.encode_all(_referral())[-1]),
    }
    reasons = {}
    for name, record in cases.items():
        with pytest.raises(RejectedRecord) as caught:
            reader.decode(record)
        reasons[name] = caught.value.reason
    assert reasons == {"unsigned": "bad-signature", "altered value": "bad-signature",
                       "forged signer": "unknown-signing-key"}


def test_directory_events_are_signed_but_not_sealed(world: tuple[FileKeyStore, PublicKeys]) -> None:
    event = CapacityUpdated(service_id=uuid.uuid4(), available=3, maximum=5,
                            confirmed_at=datetime.now(UTC))
    [record] = _codec(world, "service:intake").encode_all(event)
    assert dict(record.headers)["content-type"] == b"application/json"
    assert _codec(world, "service:matching").decode(_incoming(record)).event == event


def test_grants_land_on_their_referrals_partition() -> None:
    referral = str(uuid.uuid4()).encode()
    partitions = list(range(6))
    expected = (murmur2(referral) & 0x7FFFFFFF) % 6
    assert referral_partitioner(referral, partitions, partitions) == expected
    grant_key = referral + b"/service:matching/" + b"ab" * 16
    assert referral_partitioner(grant_key, partitions, partitions) == expected


def test_every_sealed_event_type_is_keyed_by_its_referral() -> None:
    from shared.events import registered_types
    from shared.recipients import SEALED_TYPES

    for event_type in SEALED_TYPES:
        cls = registered_types()[event_type]
        referral = uuid.uuid4()
        probe = cls.model_construct(referral_id=referral, service_id=uuid.uuid4(),
                                    notification_id="n" * 8)
        assert probe.key() == str(referral), event_type


def test_a_valid_signature_from_a_service_that_does_not_produce_the_type_is_refused(
    world: tuple[FileKeyStore, PublicKeys],
) -> None:
    reader = _codec(world, "service:notifier")
    capacity = CapacityUpdated(service_id=uuid.uuid4(), available=3, maximum=5,
                               confirmed_at=datetime.now(UTC))
    assert reader.decode(_incoming(_codec(world, "service:intake").encode(capacity))).event
    for impostor in ("service:matching", "service:outsider"):
        record = _codec(world, impostor).encode(capacity)  # signed, and validly so
        with pytest.raises(RejectedRecord) as refused:
            reader.decode(_incoming(record))
        assert refused.value.reason == "wrong-producer"
        assert impostor in refused.value.detail and "service:intake" in refused.value.detail


def test_every_event_type_has_exactly_one_producer() -> None:
    from shared.events.base import _BY_TYPE
    from shared.recipients import SERVICES, producer_of

    assert {name: producer_of(name) in SERVICES for name in _BY_TYPE} == dict.fromkeys(
        _BY_TYPE, True)
