"""Cost of sealing: per-event microseconds, and pipeline throughput with sealing on and off.

Per event: seal+sign and verify+open of a 2 KB body for 3 readers (steady state:
grants already issued and received, as for every event after a referral's first).
Pipeline: encode and publish the same referral events through the real broker
with the protected codec and with the plain codec, in the same run.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.crypto import FileKeyStore, MemoryKeyRing, PublicKeys
from shared.events import MatchingProfile, ReferralSubmitted
from shared.events.vocabulary import ServiceType, Urgency
from shared.kafka import EventPublisher, create_producer, ensure_topics
from shared.protection import accept_grant, protected_codec
from shared.records import IncomingRecord, RecordCodec
from shared.settings import KafkaSettings
from shared.topics import TopicSpec

READERS = ("service:matching", "service:notifier", "service:intake")
SINK = TopicSpec("bench.sealed", "referral id", "benchmark sink", partitions=3,
                 retention_ms=60 * 60 * 1000)


def _event(referral: uuid.UUID) -> ReferralSubmitted:
    """About 2 KB of JSON: a long language list pads the profile to size."""
    profile = MatchingProfile(needs=list(ServiceType)[:8], urgency=Urgency.TONIGHT, age_min=20,
                              age_max=40, region="r" * 64, languages=["xx"] * 10,
                              avoid_regions=["a" * 64] * 20)
    return ReferralSubmitted(referral_id=referral, outreach_organization_id=uuid.uuid4(),
                             submitted_at=datetime.now(UTC), profile=profile)


def _world(folder: Path) -> tuple[FileKeyStore, PublicKeys]:
    store = FileKeyStore(folder / "keys")
    for owner in READERS:
        store.rotate(owner)
    return store, PublicKeys(store.active(o).public_record() for o in READERS)


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_us": statistics.median(ordered) * 1e6,
            "p99_us": ordered[int(len(ordered) * 0.99) - 1] * 1e6}


def per_event(rounds: int = 2000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        store, public = _world(Path(folder))
        producer, _ = protected_codec(source="/bench", owner="service:intake", keys=store,
                                      public_keys=public, ring=MemoryKeyRing())
        ring = MemoryKeyRing()
        reader, _ = protected_codec(source="/bench", owner="service:matching", keys=store,
                                    public_keys=public, ring=ring)
        event = _event(uuid.uuid4())
        grants = producer.encode_all(event)[:-1]
        for grant in grants:
            accept_grant(grant.key, grant.value, grant.headers, owner="service:matching",
                         keys=store, public_keys=public, ring=ring)
        producer.published(grants)  # as a publisher does once the broker acknowledged them
        seal, open_ = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            record = producer.encode(event)
            sealed_at = time.perf_counter()
            reader.decode(IncomingRecord(record.topic, 0, 0, record.key, record.value,
                                         record.headers))
            seal.append(sealed_at - started)
            open_.append(time.perf_counter() - sealed_at)
        return {"body_bytes": len(event.model_dump_json()), "readers": len(READERS),
                "value_bytes": len(record.value), "seal_and_sign": _percentiles(seal),
                "verify_and_open": _percentiles(open_)}


def _throughput(settings: KafkaSettings, codec: RecordCodec, events: int) -> float:
    publisher = EventPublisher(create_producer(settings, client_id="bench-crypto"), codec)
    referrals = [uuid.uuid4() for _ in range(100)]
    started = time.perf_counter()
    for index in range(events):
        for record in codec.encode_all(_event(referrals[index % len(referrals)])):
            publisher.send(replace(record, topic=SINK.name))
    publisher.flush()
    elapsed = time.perf_counter() - started
    publisher.close()
    return events / elapsed


def pipeline(settings: KafkaSettings, events: int = 5000) -> dict[str, Any]:
    ensure_topics(settings, (SINK,))
    with tempfile.TemporaryDirectory() as folder:
        store, public = _world(Path(folder))
        sealed, _ = protected_codec(source="/bench", owner="service:intake", keys=store,
                                    public_keys=public, ring=MemoryKeyRing())
        plain_rate = _throughput(settings, RecordCodec(source="/bench"), events)
        sealed_rate = _throughput(settings, sealed, events)
    return {"events": events, "plain_events_per_s": plain_rate,
            "sealed_events_per_s": sealed_rate,
            "ratio_sealed_to_plain": sealed_rate / plain_rate}
