"""One service's places: holds, placements and the waiting list, decided by a single owner.

Pure. The matching worker that owns the service's partition of
`capacity.reservations` keeps one `Ledger` per service in a Faust table and feeds
it every request in order, so "is there still a place?" has exactly one answer.

Invariants (tested with hypothesis in tests/unit/matching/test_ledger.py):
- holds + placements never exceed the figure in force (`available`), and holds never
  exceed the service's limit on open offers;
- a figure staff lowered below what is held takes effect as holds and placements end:
  offers already made stay valid, no new hold is granted meanwhile, and the figure in
  force never stays above staff's once what is held fits in it;
- a waiting list is non-empty only while no place is open;
- places go to the waiting list by urgency, then waiting time, never skipping;
- the same request twice gets the same answer (redelivery changes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import UUID

from shared.events.vocabulary import Urgency

URGENCY_ORDER = {Urgency.TONIGHT: 0, Urgency.WITHIN_DAYS: 1, Urgency.PLANNED: 2}
Outcome = Literal["held", "waitlisted", "refused"]


@dataclass(frozen=True)
class Waiting:
    offer_id: UUID
    referral_id: UUID
    urgency: Urgency
    waiting_since: datetime

    def order(self) -> tuple[int, datetime, str]:
        return URGENCY_ORDER[self.urgency], self.waiting_since, str(self.offer_id)


@dataclass(frozen=True)
class Decision:
    """An answer for the referral's owner (sent as HoldDecided)."""

    offer_id: UUID
    referral_id: UUID
    outcome: Outcome
    reason: str = ""


@dataclass
class Ledger:
    available: int = 0  # the figure in force: staff's, or what is held while it is lowered
    reported: int | None = None  # staff's newest figure (None: ledgers stored before it)
    version: int = -1
    confirmed_at: datetime | None = None
    holds: dict[UUID, UUID] = field(default_factory=dict)          # offer -> referral
    placements: dict[UUID, datetime] = field(default_factory=dict)  # offer -> placed at
    waitlist: list[Waiting] = field(default_factory=list)
    decided: dict[UUID, Outcome] = field(default_factory=dict)      # offer -> first answer
    closed: set[UUID] = field(default_factory=set)                  # released or placed
    ended_at: dict[UUID, datetime] = field(default_factory=dict)    # closed offer -> when
    hold_limit: int = 0  # most offers open at once for this service (0: as many as places)

    @property
    def open_places(self) -> int:
        room = self.available - len(self.holds) - len(self.placements)
        if self.hold_limit > 0:
            room = min(room, self.hold_limit - len(self.holds))
        return max(0, room)

    def request(self, waiting: Waiting, *, join_waitlist: bool) -> list[Decision]:
        """Hold a place now, queue for one, or refuse; a repeat gets the first answer."""
        if waiting.offer_id in self.closed:  # a late repeat of an offer that already ended
            return [Decision(waiting.offer_id, waiting.referral_id, "refused", "closed")]
        if waiting.offer_id in self.decided:
            return [Decision(waiting.offer_id, waiting.referral_id,
                             self.decided[waiting.offer_id])]
        if self.open_places > 0 and not self.waitlist:
            return [self._hold(waiting)]
        if join_waitlist:
            self.waitlist.append(waiting)
            self.waitlist.sort(key=Waiting.order)
            self.decided[waiting.offer_id] = "waitlisted"
            return [Decision(waiting.offer_id, waiting.referral_id, "waitlisted")]
        self.decided[waiting.offer_id] = "refused"
        return [Decision(waiting.offer_id, waiting.referral_id, "refused", "at_capacity")]

    def release(self, offer_id: UUID, at: datetime | None = None) -> list[Decision]:
        """An offer ended without placement, a referral left the queue, or the person said
        no to a place: the place moves on."""
        self.holds.pop(offer_id, None)
        self.placements.pop(offer_id, None)
        self.waitlist = [w for w in self.waitlist if w.offer_id != offer_id]
        self.closed.add(offer_id)
        if at is not None:
            self.ended_at.setdefault(offer_id, at)
        self._apply_reported()
        return self._promote()

    def place(self, offer_id: UUID, at: datetime) -> list[Decision]:
        """The provider accepted: the hold becomes a placement (idempotent)."""
        if self.holds.pop(offer_id, None) is not None:
            self.placements[offer_id] = at
        self.closed.add(offer_id)
        self.ended_at.setdefault(offer_id, at)
        return []

    def forget(self, *, before: datetime) -> None:
        """Drop what is remembered of offers that ended before `before`: no redelivery can
        reach back that far (the input topic's retention), and the ledger is rewritten to
        its changelog on every change, so it must not grow for ever."""
        for offer_id in [o for o, at in self.ended_at.items() if at < before]:
            self.closed.discard(offer_id)
            self.decided.pop(offer_id, None)
            del self.ended_at[offer_id]

    def observe(self, available: int, version: int, confirmed_at: datetime) -> list[Decision]:
        """Staff's newer figure; placements made before it are already in their count."""
        if version <= self.version:
            return []
        self.reported, self.version, self.confirmed_at = available, version, confirmed_at
        self.placements = {offer: at for offer, at in self.placements.items()
                           if at > confirmed_at}
        self._apply_reported()
        return self._promote()

    def _apply_reported(self) -> None:
        """Staff's figure, held back only as far as places already held or taken need: an
        offer made cannot be taken back from a provider, so a lowering below it waits."""
        if self.reported is not None:
            self.available = max(self.reported, len(self.holds) + len(self.placements))

    def _hold(self, waiting: Waiting) -> Decision:
        self.holds[waiting.offer_id] = waiting.referral_id
        self.decided[waiting.offer_id] = "held"
        return Decision(waiting.offer_id, waiting.referral_id, "held")

    def _promote(self) -> list[Decision]:
        promoted = []
        while self.waitlist and self.open_places > 0:
            promoted.append(self._hold(self.waitlist.pop(0)))
        return promoted
