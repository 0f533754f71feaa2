"""Cases and ledgers wired together in memory: the matching pipeline without Kafka.

Routes each event to the pure handler Kafka would deliver it to, in order, so unit
tests can follow a referral from ranking to placement and check the invariants.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from services.matching.case_model import MatchingPolicy
from services.matching.cases import Case
from services.matching.ledger import Decision, Ledger, Waiting
from services.matching.ranking import Candidate, Network, rank
from shared.events import (
    Event,
    HoldDecided,
    HoldReleased,
    HoldRequested,
    MatchingProfile,
    OfferClosed,
    OfferMade,
    PlacementConfirmed,
    ReferralStatusChanged,
)


@dataclass
class Simulation:
    candidates: list[Candidate]
    now: datetime
    policy: MatchingPolicy = field(default_factory=MatchingPolicy)
    cases: dict[uuid.UUID, Case] = field(default_factory=dict)
    ledgers: dict[uuid.UUID, Ledger] = field(default_factory=dict)
    published: list[Event] = field(default_factory=list)
    _ids: int = 0

    def __post_init__(self) -> None:
        for candidate in self.candidates:
            ledger = self.ledgers.setdefault(candidate.service.service_id, Ledger())
            if candidate.capacity is not None:
                ledger.observe(candidate.capacity.available, candidate.capacity.version,
                               candidate.capacity.confirmed_at)

    def submit(self, referral_id: uuid.UUID, profile: MatchingProfile) -> None:
        ranking = rank(profile, Network(self.candidates), now=self.now)
        case, events = Case.open(referral_id=referral_id, needs=list(profile.needs),
                                 urgency=profile.urgency,
                                 accepts_waitlist=profile.accepts_waitlist, ranking=ranking,
                                 now=self.now, policy=self.policy)
        self.cases[referral_id] = case
        self._run(events)

    def accept(self, offer: OfferMade) -> None:
        self._run(self.cases[offer.referral_id].on_accepted(
            offer.offer_id, offer.organization_id, self.now, self.policy, self._id()))

    def choose(self, offer: OfferMade) -> None:
        self._run(self.cases[offer.referral_id].on_chosen(offer.offer_id, self.now, self._id()))

    def person_declines(self, offer: OfferMade, reason: str = "prefers_another_option") -> None:
        self._run(self.cases[offer.referral_id].on_person_declined(
            offer.offer_id, reason, self.now, self.policy, self._id()))

    def tick(self, now: datetime) -> list[Event]:
        """The owner's timer at `now`: every case with something due handles it."""
        self.now, before = now, len(self.published)
        for case in list(self.cases.values()):
            due = case.next_deadline(self.policy)
            if due is not None and due <= now:
                self._run(case.on_deadline(now, self.policy, self._id()))
        return self.published[before:]

    def decline(self, offer: OfferMade, reason: str = "at_capacity") -> None:
        self._run(self.cases[offer.referral_id].on_declined(
            offer.offer_id, offer.organization_id, reason, self.now, self.policy, self._id()))

    def expire(self, now: datetime) -> None:
        self.now = now
        for case in list(self.cases.values()):
            for offer_id in case.expired_offers(now):
                self._run(case.on_timeout(offer_id, now, self.policy, self._id()))

    def capacity(self, service_id: uuid.UUID, available: int, version: int) -> None:
        self._route(self.ledgers[service_id].observe(available, version, self.now), service_id)

    def closed(self, offer: OfferMade) -> list[OfferClosed]:
        return [e for e in self.published
                if isinstance(e, OfferClosed) and e.offer_id == offer.offer_id]

    def open_offers(self) -> list[OfferMade]:
        closed = {e.offer_id for e in self.published if isinstance(e, OfferClosed)}
        return [e for e in self.published if isinstance(e, OfferMade)
                and e.offer_id not in closed]

    def statuses(self, referral_id: uuid.UUID) -> list[str]:
        return [e.status.value for e in self.published
                if isinstance(e, ReferralStatusChanged) and e.referral_id == referral_id]

    def _id(self) -> str:
        self._ids += 1
        return f"input-{self._ids}"

    def _run(self, events: list[Event]) -> None:
        queue = deque(events)
        while queue:
            event = queue.popleft()
            self.published.append(event)
            if isinstance(event, HoldRequested):
                ledger = self.ledgers.setdefault(event.service_id, Ledger())
                waiting = Waiting(event.offer_id, event.referral_id, event.urgency,
                                  event.waiting_since)
                queue.extend(self._decisions(
                    ledger.request(waiting, join_waitlist=event.join_waitlist),
                    event.service_id))
            elif isinstance(event, HoldReleased):
                queue.extend(self._decisions(self.ledgers[event.service_id].release(
                    event.offer_id), event.service_id))
            elif isinstance(event, PlacementConfirmed):
                self.ledgers[event.service_id].place(event.offer_id, self.now)
            elif isinstance(event, HoldDecided):
                queue.extend(self.cases[event.referral_id].on_hold(
                    event, self.now, self.policy, self._id()))

    def _decisions(self, decisions: list[Decision], service_id: uuid.UUID) -> list[Event]:
        return [HoldDecided(referral_id=d.referral_id, service_id=service_id,
                            offer_id=d.offer_id, outcome=d.outcome, reason=d.reason,
                            decided_at=self.now) for d in decisions]

    def _route(self, decisions: list[Decision], service_id: uuid.UUID) -> None:
        self._run(self._decisions(decisions, service_id))
