"""Ranking latency per referral for networks of 64, 1,000 and 10,000 services (goal: 10,000
services in under 5 ms p99). Pure Python, no broker: this is the matching domain alone."""

from __future__ import annotations

import random
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from services.matching.ranking import Candidate, Network, rank
from shared.events import CapacityUpdated, Eligibility, MatchingProfile, ServiceUpserted
from shared.events.vocabulary import GenderIdentity, ServiceType, Urgency

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def _network(size: int, rng: random.Random) -> list[Candidate]:
    network = []
    for _ in range(size):
        service = ServiceUpserted(
            service_id=uuid.UUID(int=rng.getrandbits(128)), organization_id=uuid.uuid4(),
            service_type=rng.choice(list(ServiceType)), region=f"r{rng.randrange(12)}",
            latitude=50 + rng.random() * 4, longitude=3 + rng.random() * 4,
            eligibility=Eligibility(genders=rng.sample(list(GenderIdentity)[:5],
                                                       rng.randrange(0, 3)),
                                    age_min=rng.choice([0, 18]),
                                    dependents_allowed=rng.random() < .5,
                                    languages=rng.sample(["en", "nl", "ro", "es", "fr"], 2)))
        capacity = CapacityUpdated(service_id=service.service_id, available=rng.randrange(0, 5),
                                   maximum=5, confirmed_at=NOW)
        network.append(Candidate(service, capacity))
    return network


def run(rounds: int = 200) -> dict[str, Any]:
    rng = random.Random(7)
    profile = MatchingProfile(needs=[ServiceType.EMERGENCY_SHELTER, ServiceType.LEGAL_AID],
                              urgency=Urgency.TONIGHT, age_min=30, age_max=30, region="r3",
                              gender_identity=GenderIdentity.WOMAN, languages=["ro"],
                              approximate_latitude=52.0, approximate_longitude=5.0,
                              max_distance_km=150)
    result: dict[str, Any] = {}
    for size in (64, 1_000, 10_000):
        network = Network(_network(size, rng))
        samples = []
        for _ in range(rounds if size < 10_000 else rounds // 4):
            started = time.perf_counter()
            rank(profile, network, now=NOW)
            samples.append(time.perf_counter() - started)
        ordered = sorted(samples)
        result[f"services_{size}"] = {
            "p50_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000}
    result["ratio_10000_to_64_p50"] = (result["services_10000"]["p50_ms"]
                                       / result["services_64"]["p50_ms"])
    return result
