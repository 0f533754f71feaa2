"""One referral's way from ranking to a placement: pure state, events out.

The worker that owns the referral's partition keeps one `Case` per referral in a
Faust table. Every input (the submission, a hold decision, an answer, a timeout,
a consent change) goes through one method that returns the events to publish;
an input seen before returns nothing, so redelivery changes nothing twice.

Offers go one provider after another per need (sequential mode): hold a place at
the best candidate with open places, offer it, and on decline or expiry move to
the next. When nobody has room and the person accepts a waiting list, the case
queues at the best few services; whichever place opens first is offered and the
other places in the queue are given up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from services.matching.ranking import Ranking
from shared.events import (
    Event,
    HoldDecided,
    HoldReleased,
    HoldRequested,
    OfferClosed,
    OfferMade,
    PlacementConfirmed,
    ReferralStatusChanged,
)
from shared.events.vocabulary import ReferralStatus, ServiceType, Urgency

OfferStatus = Literal["requested", "waitlisted", "offered", "accepted", "declined", "expired",
                      "withdrawn", "refused", "released"]
NeedState = Literal["searching", "queued", "offered", "placed", "unmet"]
LIVE: frozenset[str] = frozenset({"requested", "waitlisted", "offered"})
APPLIED_MEMORY = 500


@dataclass(frozen=True)
class MatchingPolicy:
    """What the network decides (HAVEN_MATCHING_* settings): how long offers stay open, etc."""

    offer_ttl: dict[Urgency, timedelta] = field(default_factory=lambda: {
        Urgency.TONIGHT: timedelta(hours=2), Urgency.WITHIN_DAYS: timedelta(hours=24),
        Urgency.PLANNED: timedelta(hours=72)})
    waitlist_breadth: int = 3
    max_attempts_per_need: int = 20


@dataclass
class Offer:
    offer_id: uuid.UUID
    need: ServiceType
    service_id: uuid.UUID
    organization_id: uuid.UUID
    rank: int
    explanation: list[str]
    status: OfferStatus = "requested"
    expires_at: datetime | None = None


@dataclass
class Need:
    need: ServiceType
    candidates: list[dict[str, Any]]  # service_id, organization_id, waitlist, explanation
    next_index: int = 0
    state: NeedState = "searching"


@dataclass
class Case:
    referral_id: uuid.UUID
    urgency: Urgency
    waiting_since: datetime
    accepts_waitlist: bool
    needs: dict[ServiceType, Need] = field(default_factory=dict)
    offers: dict[uuid.UUID, Offer] = field(default_factory=dict)
    status: ReferralStatus = ReferralStatus.MATCHING
    reason: str = ""
    rejected: dict[str, int] = field(default_factory=dict)  # first failed rule -> services
    applied: list[str] = field(default_factory=list)
    closed: bool = False

    # --- inputs -------------------------------------------------------------------------

    @classmethod
    def open(cls, *, referral_id: uuid.UUID, needs: list[ServiceType], urgency: Urgency,
             accepts_waitlist: bool, ranking: Ranking, now: datetime,
             policy: MatchingPolicy) -> tuple[Case, list[Event]]:
        """A new case from the ranking of its referral; holds for the first candidates."""
        case = cls(referral_id=referral_id, urgency=urgency, waiting_since=now,
                   accepts_waitlist=accepts_waitlist, reason="received_by_matching")
        by_need: dict[ServiceType, list[dict[str, Any]]] = {need: [] for need in needs}
        for ranked in ranking.offers:
            need = ServiceType(ranked.service_type)
            if need in by_need:
                by_need[need].append({
                    "service_id": str(ranked.service_id),
                    "organization_id": str(ranked.organization_id),
                    "waitlist": ranked.waitlist, "explanation": list(ranked.explanation)})
        for rejected in ranking.rejected:
            case.rejected[rejected.rule] = case.rejected.get(rejected.rule, 0) + 1
        case.needs = {need: Need(need, candidates) for need, candidates in by_need.items()}
        events: list[Event] = [ReferralStatusChanged(
            referral_id=referral_id, status=ReferralStatus.MATCHING,
            reason="received_by_matching", changed_at=now)]
        for state in case.needs.values():
            events += case._advance(state, now, policy)
        return case, events + case._status(now, "ranked")

    def on_hold(self, decision: HoldDecided, now: datetime, policy: MatchingPolicy,
                event_id: str) -> list[Event]:
        if self._seen(event_id):
            return []
        offer = self.offers.get(decision.offer_id)
        if offer is None or self.closed or offer.status not in {"requested", "waitlisted"}:
            return self._give_back(decision, now) if decision.outcome == "held" else []
        need = self.needs[offer.need]
        if decision.outcome == "waitlisted":
            offer.status = "waitlisted"
            return self._status(now, "waitlisted")
        if decision.outcome == "refused":
            offer.status = "refused"
            after = self._advance(need, now, policy) if need.state == "searching" else []
            return after + self._status(now, "at_capacity")
        if need.state not in {"searching", "queued"}:
            offer.status = "released"
            return self._give_back(decision, now)
        offer.status = "offered"
        offer.expires_at = now + policy.offer_ttl[self.urgency]
        need.state = "offered"
        events: list[Event] = [OfferMade(
            offer_id=offer.offer_id, referral_id=self.referral_id,
            organization_id=offer.organization_id, service_id=offer.service_id,
            rank=offer.rank, expires_at=offer.expires_at, explanation=offer.explanation)]
        for other in self.offers.values():  # the other queues of this need are not needed now
            if other.need == offer.need and other.status in {"requested", "waitlisted"}:
                other.status = "released"
                events.append(self._release(other, now, "offered_elsewhere"))
        return events + self._status(now, "offer_made")

    def on_accepted(self, offer_id: uuid.UUID, organization_id: uuid.UUID, now: datetime,
                    event_id: str) -> list[Event]:
        offer = self.offers.get(offer_id)
        if (self._seen(event_id) or offer is None or offer.status != "offered"
                or offer.organization_id != organization_id):
            return []
        offer.status = "accepted"
        self.needs[offer.need].state = "placed"
        return [PlacementConfirmed(service_id=offer.service_id, referral_id=self.referral_id,
                                   offer_id=offer.offer_id, placed_at=now),
                self._closed(offer, "accepted", "", now),
                *self._status(now, "provider_accepted")]

    def on_declined(self, offer_id: uuid.UUID, organization_id: uuid.UUID, reason: str,
                    now: datetime, policy: MatchingPolicy, event_id: str) -> list[Event]:
        offer = self.offers.get(offer_id)
        if (self._seen(event_id) or offer is None or offer.status != "offered"
                or offer.organization_id != organization_id):
            return []
        return self._move_on(offer, "declined", reason, now, policy)

    def on_timeout(self, offer_id: uuid.UUID, now: datetime, policy: MatchingPolicy,
                   event_id: str) -> list[Event]:
        offer = self.offers.get(offer_id)
        if (self._seen(event_id) or offer is None or offer.status != "offered"
                or offer.expires_at is None or now < offer.expires_at):
            return []
        return self._move_on(offer, "expired", "no_answer_in_time", now, policy)

    def withdraw(self, status: ReferralStatus, reason: str, now: datetime,
                 event_id: str) -> list[Event]:
        """Consent revoked or erasure: every open offer and hold goes, nothing new starts."""
        if self._seen(event_id) or self.closed:
            return []
        self.closed = True
        events: list[Event] = []
        for offer in self.offers.values():
            if offer.status in LIVE:
                was_offered = offer.status == "offered"
                offer.status = "withdrawn"
                events.append(self._release(offer, now, reason))
                if was_offered:
                    events.append(self._closed(offer, "withdrawn", reason, now))
        self.status, self.reason = status, reason
        return [*events, ReferralStatusChanged(referral_id=self.referral_id, status=status,
                                               reason=reason, changed_at=now)]

    def expired_offers(self, now: datetime) -> list[uuid.UUID]:
        """Open offers past their expiry (the owner's timer turns them into OfferTimedOut)."""
        return [o.offer_id for o in self.offers.values()
                if o.status == "offered" and o.expires_at is not None and o.expires_at <= now]

    # --- steps --------------------------------------------------------------------------

    def _move_on(self, offer: Offer, outcome: Literal["declined", "expired"], reason: str,
                 now: datetime, policy: MatchingPolicy) -> list[Event]:
        offer.status = outcome
        need = self.needs[offer.need]
        need.state = "searching"
        return [self._release(offer, now, outcome), self._closed(offer, outcome, reason, now),
                *self._advance(need, now, policy),
                *self._status(now, f"{outcome}_{reason}"[:64])]

    def _advance(self, need: Need, now: datetime, policy: MatchingPolicy) -> list[Event]:
        """Ask the next candidate with open places; when none is left, queue or give up."""
        if self.closed:
            return []
        tried = {o.service_id for o in self.offers.values() if o.need == need.need}
        while need.next_index < len(need.candidates):
            candidate = need.candidates[need.next_index]
            need.next_index += 1
            service = uuid.UUID(candidate["service_id"])
            if candidate["waitlist"] or service in tried:
                continue
            if len([o for o in self.offers.values() if o.need == need.need]) >= (
                    policy.max_attempts_per_need):
                break
            return [self._request(need, candidate, join_waitlist=False, now=now)]
        queue = [c for c in need.candidates if uuid.UUID(c["service_id"]) not in {
            o.service_id for o in self.offers.values()
            if o.need == need.need and o.status in LIVE | {"declined", "expired"}}]
        if self.accepts_waitlist and queue:
            need.state = "queued"
            return [self._request(need, c, join_waitlist=True, now=now)
                    for c in queue[:policy.waitlist_breadth]]
        need.state = "unmet"
        return []

    def _request(self, need: Need, candidate: dict[str, Any], *, join_waitlist: bool,
                 now: datetime) -> HoldRequested:
        attempt = len(self.offers)
        service = uuid.UUID(candidate["service_id"])
        offer_id = uuid.uuid5(self.referral_id, f"{need.need.value}:{attempt}:{service}")
        self.offers[offer_id] = Offer(
            offer_id=offer_id, need=need.need, service_id=service,
            organization_id=uuid.UUID(candidate["organization_id"]),
            rank=need.candidates.index(candidate) + 1, explanation=candidate["explanation"])
        return HoldRequested(service_id=service, referral_id=self.referral_id,
                             offer_id=offer_id, urgency=self.urgency,
                             waiting_since=self.waiting_since, join_waitlist=join_waitlist,
                             requested_at=now)

    def _release(self, offer: Offer, now: datetime, reason: str) -> HoldReleased:
        return HoldReleased(service_id=offer.service_id, referral_id=self.referral_id,
                            offer_id=offer.offer_id, reason=reason, released_at=now)

    def _give_back(self, decision: HoldDecided, now: datetime) -> list[Event]:
        return [HoldReleased(service_id=decision.service_id, referral_id=self.referral_id,
                             offer_id=decision.offer_id, reason="not_needed", released_at=now)]

    def _closed(self, offer: Offer, outcome: Literal["accepted", "declined", "expired",
                                                      "withdrawn"],
                reason: str, now: datetime) -> OfferClosed:
        return OfferClosed(offer_id=offer.offer_id, referral_id=self.referral_id,
                           organization_id=offer.organization_id, service_id=offer.service_id,
                           outcome=outcome, reason=reason, closed_at=now)

    def _status(self, now: datetime, reason: str) -> list[Event]:
        """A status event whenever the referral's overall state (or its reason) changes."""
        states = {need.state for need in self.needs.values()}
        if not states or states == {"unmet"}:
            status, reason = ReferralStatus.RETURNED, "no_match"
        elif states == {"placed"}:
            status = ReferralStatus.PLACED
        elif "offered" in states:
            status = ReferralStatus.OFFERED
        elif "queued" in states and "searching" not in states:
            status = ReferralStatus.WAITLISTED
        elif states <= {"placed", "unmet"}:
            status, reason = ReferralStatus.RETURNED, "partly_unmet"
        else:
            status = ReferralStatus.MATCHING
        if (status, reason) == (self.status, self.reason):
            return []
        self.status, self.reason = status, reason
        return [ReferralStatusChanged(referral_id=self.referral_id, status=status,
                                      reason=reason, changed_at=now)]

    def _seen(self, event_id: str) -> bool:
        if event_id in self.applied:
            return True
        self.applied = [*self.applied[-(APPLIED_MEMORY - 1):], event_id]
        return False
