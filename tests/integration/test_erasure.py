"""Erasure is real: after tombstones and compaction, a replay of every topic from offset 0
with every private key opens none of the erased referral's views, and all of the others.
Also: an organization's key rotation keeps in-flight grants readable until retirement.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.crypto import FileKeyStore, MemoryKeyRing, PublicKeys, SealError
from shared.events import MatchingProfile, ReferralSubmitted
from shared.events.vocabulary import ServiceType, Urgency
from shared.kafka import EventPublisher, create_producer, ensure_topics
from shared.protection import accept_grant, grant_tombstone, protected_codec
from shared.records import IncomingRecord, OutgoingRecord, RejectedRecord
from shared.settings import KafkaSettings
from shared.topics import TopicSpec
from tests.support.kafka import read_until

READERS = ("service:matching", "service:notifier")


def _topics() -> tuple[TopicSpec, TopicSpec]:
    tag = uuid.uuid4().hex[:8]
    keys = TopicSpec(f"test.erasure.{tag}.keys", "referral/recipient/grant", "test", partitions=2,
                     cleanup="compact", retention_ms=None, extra_config={
                         "segment.ms": "200", "min.cleanable.dirty.ratio": "0.001",
                         "delete.retention.ms": "100", "min.compaction.lag.ms": "0"})
    data = TopicSpec(f"test.erasure.{tag}.data", "referral id", "test", partitions=2)
    return keys, data


def _referral() -> ReferralSubmitted:
    return ReferralSubmitted(
        referral_id=uuid.uuid4(), outreach_organization_id=uuid.uuid4(),
        submitted_at=datetime.now(UTC),
        profile=MatchingProfile(needs=[ServiceType.EMERGENCY_SHELTER], urgency=Urgency.TONIGHT,
                                age_min=30, age_max=30, region="west"))


def _publish(publisher: EventPublisher, records: list[OutgoingRecord], keys: TopicSpec,
             data: TopicSpec) -> None:
    for record in records:
        topic = keys.name if record.topic == "referral.keys" else data.name
        publisher.send(replace(record, topic=topic)).get(timeout=30)
    publisher.codec.published(records)


def _everything(bootstrap: str, topic: str) -> list[IncomingRecord]:
    """Read a topic from offset 0 until two polls in a row bring nothing new."""
    seen: list[IncomingRecord] = []
    previous = -1
    while len(seen) != previous:
        previous = len(seen)
        seen = read_until(bootstrap, topic, done=lambda rs, n=previous: len(rs) > n,
                          timeout_s=3)
    return seen


def _replay_opens(bootstrap: str, store: FileKeyStore, public: PublicKeys, keys: TopicSpec,
                  data: TopicSpec) -> dict[str, bool]:
    """referral id -> whether any reader, holding every private key, can open its event."""
    rings = {owner: MemoryKeyRing() for owner in READERS}
    for record in _everything(bootstrap, keys.name):
        for owner in READERS:
            try:
                accept_grant(record.key or b"", record.value, record.headers, owner=owner,
                             keys=store, public_keys=public, ring=rings[owner])
            except SealError:  # the unsigned filler records that roll segments
                continue
    opened: dict[str, bool] = {}
    for record in _everything(bootstrap, data.name):
        subject = (record.key or b"").decode()
        results = []
        for owner in READERS:
            codec, _ = protected_codec(source="/replay", owner=owner, keys=store,
                                       public_keys=public, ring=rings[owner])
            try:
                codec.decode(record)
                results.append(True)
            except RejectedRecord as rejection:
                assert rejection.reason == "erased", rejection.reason
                results.append(False)
        opened[subject] = any(results)
    return opened


@pytest.mark.slow
def test_erased_referral_stays_closed_after_compaction(
    kafka_broker: KafkaSettings, tmp_path: Path
) -> None:
    keys, data = _topics()
    ensure_topics(kafka_broker, (keys, data))
    store = FileKeyStore(tmp_path / "every-private-key")
    for owner in ("service:intake", *READERS):
        store.rotate(owner)
    public = PublicKeys(store.active(o).public_record() for o in store.owners())
    codec, _ = protected_codec(source="/intake", owner="service:intake", keys=store,
                               public_keys=public, ring=MemoryKeyRing())
    publisher = EventPublisher(create_producer(kafka_broker, client_id="erasure"), codec)
    erased, kept = _referral(), _referral()
    for event in (erased, kept, erased):  # the second event of `erased` reuses its grants
        _publish(publisher, codec.encode_all(event), keys, data)
    before = _replay_opens(kafka_broker.bootstrap_servers, store, public, keys, data)
    assert before == {str(erased.referral_id): True, str(kept.referral_id): True}

    grants = [r for r in _everything(kafka_broker.bootstrap_servers, keys.name)
              if (r.key or b"").startswith(str(erased.referral_id).encode())]
    assert len(grants) == 3, "one grant per reader (matching, notifier, intake), reused"
    producer = create_producer(kafka_broker, client_id="tombstones")
    for grant in grants:  # signed by intake, the erasure authority, as its outbox sends them
        tombstone = codec.signed(grant_tombstone(grant.key or b""))
        producer.send(keys.name, key=tombstone.key, value=None,
                      headers=tombstone.headers).get(timeout=30)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for partition in range(keys.partitions):  # a segment rolls only when written to
            producer.send(keys.name, key=b"filler/x/00", value=b"roll the segment",
                          partition=partition).get(timeout=30)
        remaining = [r for r in _everything(kafka_broker.bootstrap_servers, keys.name)
                     if (r.key or b"").startswith(str(erased.referral_id).encode()) and r.value]
        if not remaining:
            break
        time.sleep(1)
    producer.close()
    publisher.close()
    assert not remaining, "compaction must remove the erased referral's grants"
    after = _replay_opens(kafka_broker.bootstrap_servers, store, public, keys, data)
    assert after == {str(erased.referral_id): False, str(kept.referral_id): True}
