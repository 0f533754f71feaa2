"""One referral's way from ranking to a placement: pure state, events out.

The worker that owns the referral's partition keeps one `Case` per referral in a
Faust table. Every input (the submission, a hold decision, an answer, a timeout,
a consent change) goes through one method that returns the events to publish;
an input seen before returns nothing, so redelivery changes nothing twice.

Offers go one provider after another per need (sequential mode): hold a place at
the best candidate with open places, offer it, and on decline or expiry move to
the next; the first acceptance places the person. In parallel mode the best K
candidates are asked at once; every provider that accepts keeps its place until
the person chooses one with their outreach worker (within a time limit), and the
others are released. When nobody has room and the person accepts a waiting list,
the case queues at the best few services; whichever place opens first is offered
and the other places in the queue are given up.

Deadlines (offer expiry, the person's choice, a stalled referral) are checked by
`on_deadline`, which the owner's timer triggers; `next_deadline` says when.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from services.matching.case_model import (
    APPLIED_MEMORY,
    COUNTED,
    HOLDING,
    LIVE,
    RETURN_REASONS,
    MatchingPolicy,
    Need,
    NeedState,
    Offer,
)
from services.matching.ranking import Ranking
from shared.events import (
    ErasureApplied,
    Event,
    HoldDecided,
    HoldReleased,
    HoldRequested,
    OfferClosed,
    OfferMade,
    PlacementConfirmed,
    ReferralStalled,
    ReferralStatusChanged,
    WithdrawnOffer,
)
from shared.events.vocabulary import ReferralStatus, ServiceType, Urgency


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
    parallel: bool = False                  # the mode this case was opened in
    status_since: datetime | None = None
    alerted: str = ""                       # "status@since" of the last stall alert

    # --- inputs -------------------------------------------------------------------------

    @classmethod
    def open(cls, *, referral_id: uuid.UUID, needs: list[ServiceType], urgency: Urgency,
             accepts_waitlist: bool, ranking: Ranking, now: datetime,
             policy: MatchingPolicy) -> tuple[Case, list[Event]]:
        """A new case from the ranking of its referral; holds for the first candidates."""
        case = cls(referral_id=referral_id, urgency=urgency, waiting_since=now,
                   accepts_waitlist=accepts_waitlist, reason="received_by_matching",
                   parallel=policy.mode == "parallel", status_since=now)
        by_need: dict[ServiceType, list[dict[str, Any]]] = {need: [] for need in needs}
        for ranked in ranking.offers:  # best first; no need is ever tried past its cap
            need = ServiceType(ranked.service_type)
            if need in by_need and len(by_need[need]) < policy.max_attempts_per_need:
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
        if decision.outcome == "withdrawn":
            return self._hold_withdrawn(offer, decision.reason, now, policy)
        if offer is None or self.closed or offer.status not in {"requested", "waitlisted"}:
            return self._give_back(decision, now) if decision.outcome == "held" else []
        need = self.needs[offer.need]
        if decision.outcome == "waitlisted":
            offer.status = "waitlisted"
            return self._status(now, "waitlisted")
        if decision.outcome == "refused":
            offer.status = "refused"
            return self._advance(need, now, policy) + self._status(now, "at_capacity")
        if not self._may_offer(need, offer):
            offer.status = "released"
            return self._give_back(decision, now)
        offer.status = "offered"
        offer.expires_at = now + policy.offer_ttl[self.urgency]
        need.state = "offered"
        events: list[Event] = [OfferMade(
            offer_id=offer.offer_id, referral_id=self.referral_id,
            organization_id=offer.organization_id, service_id=offer.service_id,
            rank=offer.rank, expires_at=offer.expires_at, explanation=offer.explanation)]
        for other in self._of(need, {"requested", "waitlisted"}):  # queues not needed now
            if other.queued or not self.parallel:
                other.status = "released"
                events.append(self._release(other, now, "offered_elsewhere"))
        return events + self._status(now, "offer_made")

    def _hold_withdrawn(self, offer: Offer | None, reason: str, now: datetime,
                        policy: MatchingPolicy) -> list[Event]:
        """Staff lowered the figure under this hold: the offer is withdrawn (the provider and
        the outreach worker see why) and the search goes on. The ledger already let the
        place go; a placement that got there first stands (the ledger counts it)."""
        if offer is None or self.closed or offer.status not in HOLDING:
            return []
        told = offer.status in {"offered", "accepted"}
        offer.status = "withdrawn"
        need = self.needs[offer.need]
        if need.state != "queued":  # a queued need keeps waiting at its other services
            need.state = self._state_from_offers(need)
        events: list[Event] = [self._closed(offer, "withdrawn", reason, now)] if told else []
        return events + self._advance(need, now, policy) + self._status(
            now, reason or "capacity_lowered")

    def on_accepted(self, offer_id: uuid.UUID, organization_id: uuid.UUID, now: datetime,
                    policy: MatchingPolicy, event_id: str) -> list[Event]:
        """Sequential: the person is placed. Parallel: the place waits for their choice."""
        offer = self.offers.get(offer_id)
        if (self._seen(event_id) or offer is None or offer.status != "offered"
                or offer.organization_id != organization_id):
            return []
        if not self.parallel:
            return self._place(offer, now, "provider_accepted")
        offer.status = "accepted"
        need = self.needs[offer.need]
        if need.state != "choosing":  # the person's time to choose starts with the first yes
            need.state, need.choose_by = "choosing", now + policy.choice_ttl
        return self._status(now, "provider_accepted")

    def on_chosen(self, offer_id: uuid.UUID, now: datetime, event_id: str) -> list[Event]:
        """The person chose among the providers that accepted; the others are released."""
        offer = self.offers.get(offer_id)
        if (self._seen(event_id) or self.closed or offer is None or offer.status != "accepted"
                or self.needs[offer.need].state != "choosing"):
            return []
        return self._place(offer, now, "person_chose")

    def on_person_declined(self, offer_id: uuid.UUID, reason: str, now: datetime,
                           policy: MatchingPolicy, event_id: str) -> list[Event]:
        """The person says no to a place a provider accepted: it is released, the provider
        and the outreach worker are told; the search goes on unless help is no longer needed."""
        offer = self.offers.get(offer_id)
        if (self._seen(event_id) or self.closed or offer is None
                or offer.status not in {"accepted", "placed"}):
            return []
        offer.status = "person_declined"
        need = self.needs[offer.need]
        events: list[Event] = [self._release(offer, now, "person_declined"),
                               self._closed(offer, "withdrawn", "person_declined", now)]
        if reason == "no_longer_needed":
            events += self._end_need(need, now, "person_declined")
        else:
            need.state = self._state_from_offers(need)
            events += self._advance(need, now, policy)
        return events + self._status(now, "person_declined")

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

    def on_deadline(self, now: datetime, policy: MatchingPolicy, event_id: str) -> list[Event]:
        """Whatever is due: expired offers move on, lapsed choices end, stalls alert once."""
        if self._seen(event_id):
            return []
        events: list[Event] = []
        for offer_id in self.expired_offers(now):
            events += self._move_on(self.offers[offer_id], "expired", "no_answer_in_time",
                                    now, policy)
        for need in self.needs.values():
            if need.state == "choosing" and need.choose_by and need.choose_by <= now:
                events += self._end_need(need, now, "no_choice_in_time")
                events += self._status(now, "no_choice_in_time")
        return events + self._stall_alert(now, policy)

    def withdraw(self, status: ReferralStatus, reason: str, now: datetime,
                 event_id: str) -> list[Event]:
        """Consent revoked or erasure: every open offer and hold goes, nothing new starts."""
        if self._seen(event_id) or self.closed:
            return []
        self.closed = True
        events: list[Event] = []
        for offer in self.offers.values():
            if offer.status in HOLDING:
                events += self._let_go(offer, now, reason)
        if status != self.status:
            self.status_since = now
        self.status, self.reason = status, reason
        return [*events, ReferralStatusChanged(referral_id=self.referral_id, status=status,
                                               reason=reason, changed_at=now)]

    @classmethod
    def erased_before_opened(cls, referral_id: uuid.UUID, now: datetime) -> Case:
        """The erasure overtook the submission (they travel on different topics): an empty
        case for `erase` to close, so the submission that arrives later opens nothing."""
        return cls(referral_id=referral_id, urgency=Urgency.PLANNED, waiting_since=now,
                   accepts_waitlist=False, status_since=now)

    def erase(self, now: datetime, event_id: str) -> list[Event]:
        """Erasure: every open offer and hold goes, and what follows is only ids and outcomes.

        The referral's keys are being destroyed, so nothing here is sealed: the holds are
        released on `capacity.reservations` (plain, as always) and one `ErasureApplied`
        names the offers withdrawn, which intake and the notifier can act on without keys.
        """
        if self._seen(event_id) or (self.closed and self.status is ReferralStatus.ERASED):
            return []
        releases: list[Event] = []
        withdrawn: list[WithdrawnOffer] = []
        for offer in self.offers.values():
            if offer.status in HOLDING:
                if offer.status in {"offered", "accepted"}:
                    withdrawn.append(WithdrawnOffer(offer_id=offer.offer_id,
                                                    organization_id=offer.organization_id,
                                                    service_id=offer.service_id))
                offer.status = "withdrawn"
                releases.append(self._release(offer, now, "erased"))
        self.closed = True
        if self.status is not ReferralStatus.ERASED:
            self.status_since = now
        self.status, self.reason = ReferralStatus.ERASED, "erased"
        return [*releases, ErasureApplied(referral_id=self.referral_id, withdrawn=withdrawn,
                                          released_holds=len(releases), applied_at=now)]

    def expired_offers(self, now: datetime) -> list[uuid.UUID]:
        """Open offers past their expiry (`on_deadline` moves each one on)."""
        return [o.offer_id for o in self.offers.values()
                if o.status == "offered" and o.expires_at is not None and o.expires_at <= now]

    def next_deadline(self, policy: MatchingPolicy) -> datetime | None:
        """The earliest moment `on_deadline` has something to do, or None."""
        due = [o.expires_at for o in self.offers.values()
               if o.status == "offered" and o.expires_at is not None]
        due += [n.choose_by for n in self.needs.values()
                if n.state == "choosing" and n.choose_by is not None]
        stall = policy.stall_after.get(self.status)
        if (stall is not None and not self.closed and self.status_since is not None
                and self.alerted != self._stall_marker()):
            due.append(self.status_since + stall)
        forget_at = self._forget_at(policy)
        if forget_at is not None:
            due.append(forget_at)
        return min(due, default=None)

    def forgettable(self, now: datetime, policy: MatchingPolicy) -> bool:
        """Settled long enough ago that nothing can still change it: drop it from the table."""
        forget_at = self._forget_at(policy)
        return forget_at is not None and forget_at <= now

    def _forget_at(self, policy: MatchingPolicy) -> datetime | None:
        settled = self.closed or self.status in (ReferralStatus.PLACED, ReferralStatus.RETURNED)
        if not settled or self.status_since is None or self._of_all(HOLDING):
            return None
        return self.status_since + policy.keep_settled

    # --- steps --------------------------------------------------------------------------

    def _move_on(self, offer: Offer, outcome: Literal["declined", "expired"], reason: str,
                 now: datetime, policy: MatchingPolicy) -> list[Event]:
        offer.status = outcome
        need = self.needs[offer.need]
        need.state = self._state_from_offers(need)
        return [self._release(offer, now, outcome), self._closed(offer, outcome, reason, now),
                *self._advance(need, now, policy),
                *self._status(now, f"{outcome}_{reason}"[:64])]

    def _place(self, offer: Offer, now: datetime, reason: str) -> list[Event]:
        offer.status = "placed"
        need = self.needs[offer.need]
        need.state = "placed"
        events: list[Event] = [
            PlacementConfirmed(service_id=offer.service_id, referral_id=self.referral_id,
                               offer_id=offer.offer_id, placed_at=now),
            self._closed(offer, "accepted", "", now)]
        for other in self._of(need, HOLDING):
            events += self._let_go(other, now, "placed_elsewhere")
        return events + self._status(now, reason)

    def _end_need(self, need: Need, now: datetime, reason: str) -> list[Event]:
        """Nothing more for this need: every hold and offer of it goes."""
        events: list[Event] = []
        for offer in self._of(need, HOLDING):
            events += self._let_go(offer, now, reason)
        need.state = "unmet"
        return events

    def _let_go(self, offer: Offer, now: datetime, reason: str) -> list[Event]:
        """Release an offer's hold (and close it, if the provider had been told)."""
        told = offer.status in {"offered", "accepted"}
        offer.status = "withdrawn"
        events: list[Event] = [self._release(offer, now, reason)]
        return events + ([self._closed(offer, "withdrawn", reason, now)] if told else [])

    def _advance(self, need: Need, now: datetime, policy: MatchingPolicy) -> list[Event]:
        """Ask the next candidates with open places; when none is left, queue or give up."""
        if self.closed or need.state not in {"searching", "offered"}:
            return []
        wanted = policy.parallel_offers if self.parallel else 1
        events: list[Event] = []
        while (len(self._of(need, {"requested", "offered"})) < wanted
               and len(self._of_all(COUNTED)) < policy.max_open_offers_per_referral):
            candidate = self._next_candidate(need, policy)
            if candidate is None:
                break
            events.append(self._request(need, candidate, join_waitlist=False, now=now))
        if events or self._of(need, {"requested", "offered"}):
            return events
        if need.next_index < len(need.candidates):
            return []  # the referral's open-offer limit is reached: wait for a slot
        tried = {o.service_id for o in self._of(need, LIVE | {"declined", "expired",
                                                              "person_declined"})}
        queue = [c for c in need.candidates if uuid.UUID(c["service_id"]) not in tried]
        if self.accepts_waitlist and queue:
            need.state = "queued"
            return [self._request(need, c, join_waitlist=True, now=now)
                    for c in queue[:policy.waitlist_breadth]]
        need.state = "unmet"
        return []

    def _next_candidate(self, need: Need, policy: MatchingPolicy) -> dict[str, Any] | None:
        tried = {o.service_id for o in self._of(need, None)}
        while need.next_index < len(need.candidates):
            if len(tried) >= policy.max_attempts_per_need:
                need.next_index = len(need.candidates)
                break
            candidate = need.candidates[need.next_index]
            need.next_index += 1
            if not candidate["waitlist"] and uuid.UUID(candidate["service_id"]) not in tried:
                return candidate
        return None

    def _may_offer(self, need: Need, offer: Offer) -> bool:
        """A held place becomes an offer unless the need is settled or already offered."""
        if need.state in {"searching", "queued"}:
            return True
        return self.parallel and need.state == "offered" and not offer.queued

    def _state_from_offers(self, need: Need) -> NeedState:
        statuses = {o.status for o in self._of(need, None)}
        for status, state in (("placed", "placed"), ("accepted", "choosing"),
                              ("offered", "offered")):
            if status in statuses:
                return state  # type: ignore[return-value]
        return "searching"

    def _of(self, need: Need, statuses: frozenset[str] | set[str] | None) -> list[Offer]:
        return [o for o in self.offers.values()
                if o.need == need.need and (statuses is None or o.status in statuses)]

    def _of_all(self, statuses: frozenset[str]) -> list[Offer]:
        return [o for o in self.offers.values() if o.status in statuses]

    def _request(self, need: Need, candidate: dict[str, Any], *, join_waitlist: bool,
                 now: datetime) -> HoldRequested:
        attempt = len(self.offers)
        service = uuid.UUID(candidate["service_id"])
        offer_id = uuid.uuid5(self.referral_id, f"{need.need.value}:{attempt}:{service}")
        self.offers[offer_id] = Offer(
            offer_id=offer_id, need=need.need, service_id=service,
            organization_id=uuid.UUID(candidate["organization_id"]),
            rank=need.candidates.index(candidate) + 1, explanation=candidate["explanation"],
            queued=join_waitlist)
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
            status = ReferralStatus.RETURNED
            reason = reason if reason in RETURN_REASONS else "no_match"
        elif states == {"placed"}:
            status = ReferralStatus.PLACED
        elif "choosing" in states:
            status = ReferralStatus.ACCEPTED
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
        if status != self.status:
            self.status_since = now
        self.status, self.reason = status, reason
        unmet = status in {ReferralStatus.WAITLISTED, ReferralStatus.RETURNED}
        return [ReferralStatusChanged(referral_id=self.referral_id, status=status,
                                      reason=reason, changed_at=now,
                                      excluded_by=self._main_exclusion() if unmet else "")]

    def _main_exclusion(self) -> str:
        """The hard rule that ruled out the most services the person needed."""
        counted = [(count, rule) for rule, count in self.rejected.items()
                   if rule != "service_type"]
        return max(counted, key=lambda item: (item[0], item[1]))[1] if counted else ""

    def _stall_marker(self) -> str:
        since = self.status_since.isoformat() if self.status_since else ""
        return f"{self.status.value}@{since}"

    def _stall_alert(self, now: datetime, policy: MatchingPolicy) -> list[Event]:
        """One alert per stay in a state that lasts longer than the network allows."""
        limit = policy.stall_after.get(self.status)
        if (self.closed or limit is None or self.status_since is None
                or self.alerted == self._stall_marker() or now - self.status_since < limit):
            return []
        self.alerted = self._stall_marker()
        return [ReferralStalled(referral_id=self.referral_id, status=self.status,
                                since=self.status_since, alerted_at=now)]

    def _seen(self, event_id: str) -> bool:
        if event_id in self.applied:
            return True
        self.applied = [*self.applied[-(APPLIED_MEMORY - 1):], event_id]
        return False
