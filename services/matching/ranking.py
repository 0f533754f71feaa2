"""Pure ranking: which services can take this person, in which order, and why.

Hard filters first, each with a name, so every rejected service reports the first
rule it failed; then a score from documented weights, each one listed in the
explanation, so staff and admins see why an offer went where it went.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import NamedTuple
from uuid import UUID

from shared.events import CapacityUpdated, MatchingProfile, ServiceUpserted
from shared.events.vocabulary import GenderIdentity, ServiceType

WEIGHTS = {
    "same_region": 2.0,       # staying near support networks, unless the person must move
    "language_fit": 3.0,      # per shared language, capped at two
    "open_places": 2.0,       # scaled by the share of places still open: spreads the load
    "fresh_capacity": 2.0,    # full weight when confirmed within the staleness window
    "distance": 2.0,          # full weight at 0 km, none at the person's maximum
}
MAX_LANGUAGE_BONUS = 2


@dataclass(frozen=True)
class Candidate:
    """A service with its latest capacity and the places already held by open offers."""

    service: ServiceUpserted
    capacity: CapacityUpdated | None
    held: int = 0

    @property
    def open_places(self) -> int:
        return 0 if self.capacity is None else max(0, self.capacity.available - self.held)

    @cached_property
    def facts(self) -> _Facts:
        """The rules' inputs as flat sets, computed once per directory snapshot."""
        return _Facts(self)


class _Facts:
    """A service's eligibility flattened for the hot loop (10,000 services in milliseconds)."""

    __slots__ = ("service_type", "region", "genders", "age_min", "age_max", "dependents",
                 "languages", "exploitation", "immigration", "substance_use", "pets",
                 "accessibility", "active", "position", "has_room")

    def __init__(self, candidate: Candidate) -> None:
        service, rules = candidate.service, candidate.service.eligibility
        self.service_type, self.region, self.active = (service.service_type, service.region,
                                                       service.active)
        self.genders = frozenset(rules.genders)
        self.age_min, self.age_max = rules.age_min, rules.age_max
        self.dependents, self.substance_use, self.pets = (
            rules.dependents_allowed, rules.substance_use_accepted, rules.pets_allowed)
        self.languages = frozenset(rules.languages)
        self.exploitation = frozenset(rules.exploitation_types)
        self.immigration = frozenset(rules.immigration_statuses)
        self.accessibility = frozenset(rules.accessibility)
        self.position = (service.latitude, service.longitude)
        self.has_room = candidate.open_places > 0


@dataclass(frozen=True)
class Ranked:
    service_id: UUID
    organization_id: UUID
    service_type: ServiceType
    score: float
    waitlist: bool
    parts: tuple[tuple[str, float], ...] = field(default_factory=tuple)

    @property
    def explanation(self) -> tuple[str, ...]:
        """Why this service, in words; formatted on demand, since most candidates of a large
        network are ranked but never offered."""
        return ("met every eligibility rule",
                *(f"{name}: +{value:.2f}" for name, value in self.parts))


class Rejected(NamedTuple):
    """A service that was not offered, and the first hard rule it failed."""

    service_id: UUID
    rule: str


@dataclass(frozen=True)
class Ranking:
    offers: list[Ranked]
    rejected: list[Rejected]
    other_service_types: int = 0  # services never considered: they offer nothing needed


class Network:
    """Candidates grouped by service type, so a referral only looks at what it needs."""

    def __init__(self, candidates: Iterable[Candidate] = ()) -> None:
        self._by_type: dict[ServiceType, list[Candidate]] = defaultdict(list)
        for candidate in candidates:
            self._by_type[candidate.service.service_type].append(candidate)

    def __len__(self) -> int:
        return sum(len(group) for group in self._by_type.values())

    def offering(self, needs: Iterable[ServiceType]) -> list[Candidate]:
        return [c for need in dict.fromkeys(needs) for c in self._by_type.get(need, [])]


def rank(profile: MatchingProfile, candidates: Iterable[Candidate] | Network, *,
         now: datetime, stale_after: timedelta = timedelta(hours=24)) -> Ranking:
    """Eligible services best first (open places before waitlists), and why the rest were not.

    Given a Network, services of types the person does not need are counted, not listed.
    """
    skipped = 0
    if isinstance(candidates, Network):
        considered = candidates.offering(profile.needs)
        skipped = len(candidates) - len(considered)
        candidates = considered
    offers, rejected = [], []
    rules = _Rules(profile)
    for candidate in candidates:
        failed = rules.first_failed(candidate)
        if failed is not None:
            # _make skips the keyword-parsing __new__: thousands of rejections per referral.
            rejected.append(Rejected._make((candidate.service.service_id, failed)))
            continue
        offers.append(_scored(profile, candidate, now=now, stale_after=stale_after,
                              km=rules.km))
    offers.sort(key=lambda r: (r.waitlist, -r.score, r.service_id.int))
    return Ranking(offers, rejected, skipped)


def first_failed_rule(profile: MatchingProfile, candidate: Candidate) -> str | None:
    """The name of the first hard rule the service fails, or None when it is eligible."""
    return _Rules(profile).first_failed(candidate)


class _Rules:
    """The hard rules with the profile's facts prepared once per referral.

    Checked in order, cheapest and most selective first, stopping at the first failure.
    """

    def __init__(self, profile: MatchingProfile) -> None:
        self.profile = profile
        self.needs = frozenset(profile.needs)
        self.avoid = frozenset(profile.avoid_regions)
        self.languages = frozenset(profile.languages)
        self.exploitation = frozenset(profile.exploitation_types)
        # An unsaid gender never matches a service that serves only some genders.
        self.gender = (None if profile.gender_identity is GenderIdentity.NOT_SAID
                       else profile.gender_identity)
        self.dependents = bool(profile.dependents)
        self.accessibility = frozenset(profile.accessibility)
        self.origin = _origin(profile) if profile.max_distance_km is not None else None
        self.max_km = profile.max_distance_km or 0.0
        self.km: float | None = None

    def first_failed(self, candidate: Candidate) -> str | None:
        profile, facts = self.profile, candidate.facts
        if facts.service_type not in self.needs:
            return "service_type"
        if facts.region in self.avoid:
            return "area_to_avoid"
        if facts.genders and self.gender not in facts.genders:
            return "gender"
        if not facts.age_min <= profile.age_min <= profile.age_max <= facts.age_max:
            return "age"
        if self.dependents and not facts.dependents:
            return "dependents"
        if facts.languages and self.languages and self.languages.isdisjoint(facts.languages):
            return "language"
        if facts.exploitation and self.exploitation and self.exploitation.isdisjoint(
                facts.exploitation):
            return "exploitation_type"
        if facts.immigration and profile.immigration_status not in facts.immigration:
            return "immigration_status"
        if profile.substance_use and not facts.substance_use:
            return "substance_use"
        if profile.pets and not facts.pets:
            return "pets"
        if self.accessibility and not self.accessibility <= facts.accessibility:
            return "accessibility"
        if not facts.active:
            return "inactive"
        if self.origin is not None:
            self.km = distance_km(self.origin, facts.position)  # reused by the score
            if self.km > self.max_km:
                return "distance"
        if not facts.has_room and not profile.accepts_waitlist:
            return "capacity"
        return None


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine), enough for 'how far is the bed'."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _origin(profile: MatchingProfile) -> tuple[float, float] | None:
    if profile.approximate_latitude is None or profile.approximate_longitude is None:
        return None
    return profile.approximate_latitude, profile.approximate_longitude


def _within_distance(profile: MatchingProfile, service: ServiceUpserted) -> bool:
    origin = _origin(profile)
    if origin is None or profile.max_distance_km is None:
        return True
    return distance_km(origin, (service.latitude, service.longitude)) <= profile.max_distance_km


def _scored(profile: MatchingProfile, candidate: Candidate, *, now: datetime,
            stale_after: timedelta, km: float | None = None) -> Ranked:
    service, capacity = candidate.service, candidate.capacity
    parts: dict[str, float] = {}
    if service.region == profile.region:
        parts["same_region"] = WEIGHTS["same_region"]
    shared_languages = set(service.eligibility.languages) & set(profile.languages)
    if shared_languages:
        parts["language_fit"] = WEIGHTS["language_fit"] * min(len(shared_languages),
                                                              MAX_LANGUAGE_BONUS)
    if capacity is not None and capacity.maximum > 0:
        parts["open_places"] = WEIGHTS["open_places"] * candidate.open_places / capacity.maximum
        age = now - capacity.confirmed_at
        freshness = max(0.0, 1 - max(0.0, (age - stale_after) / stale_after))
        parts["fresh_capacity"] = WEIGHTS["fresh_capacity"] * freshness
    origin = _origin(profile)
    if origin is not None and profile.max_distance_km:
        if km is None:
            km = distance_km(origin, (service.latitude, service.longitude))
        parts["distance"] = WEIGHTS["distance"] * max(0.0, 1 - km / profile.max_distance_km)
    return Ranked(service.service_id, service.organization_id, service.service_type,
                  round(sum(parts.values()), 4), waitlist=candidate.open_places == 0,
                  parts=tuple(sorted(parts.items())))
