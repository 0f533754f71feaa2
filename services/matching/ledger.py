"""One service's places: holds, placements and the waiting list, decided by a single owner.

Pure. The matching worker that owns the service's partition of
`capacity.reservations` keeps one `Ledger` per service in a Faust table and feeds
it every request in order, so "is there still a place?" has exactly one answer.

Staff's figure (`reported`) counts the service's open places with Haven's placements up
to one placement number (`counted_through`): every placement gets the next number here,
intake learns the numbers from `counts()`, and a figure staff send states through which
number it counts them. Placements after that number stay on top of the figure, so no
confirmation, however late or stale, reopens a filled place (docs/matching.md, "One
truth for a service's places").

Invariants (tested with hypothesis in tests/unit/matching/test_ledger.py, and with
intake's capacity rules in tests/unit/matching/test_capacity_truth.py):
- holds + placements never exceed the figure in force (`available`), and holds never
  exceed the service's limit on open offers;
- a figure staff lowered below what is held withdraws the newest holds (decision
  `withdrawn`, reason `capacity_lowered`) until the rest fit; placements are people and
  are never withdrawn, so only they may stand above a lowered figure;
- a waiting list is non-empty only while no place is open;
- places go to the waiting list by urgency, then waiting time, never skipping;
- the same request twice gets the same answer (redelivery changes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal
from uuid import UUID

from shared.events.vocabulary import Urgency


@dataclass(frozen=True)
class Counts:
    """A ledger's counts for intake (sent as the `CapacityCounted` event)."""

    held: int
    pending: list[int]          # numbers of placements staff's figure does not count yet
    placements_through: int
    waitlisted: int
    figure_version: int
    revision: int

URGENCY_ORDER = {Urgency.TONIGHT: 0, Urgency.WITHIN_DAYS: 1, Urgency.PLANNED: 2}
Outcome = Literal["held", "waitlisted", "refused", "withdrawn"]
LOWERED = "capacity_lowered"


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
    placement_seq: dict[UUID, int] = field(default_factory=dict)  # placed offer -> its number
    placements_made: int = 0   # the last placement number given
    counted_through: int = 0   # staff's figure counts placements numbered up to this
    revision: int = 0          # grows with every change intake should hear of (`counts`)

    def counts(self) -> Counts:
        """What intake shows and staff count from: holds, placements not yet counted, and
        the placement numbers staff's next figure may say it counts."""
        self._number_placements()
        return Counts(
            held=len(self.holds), pending=sorted(self.placement_seq.values()),
            placements_through=self.placements_made, waitlisted=len(self.waitlist),
            figure_version=self.version, revision=self.revision)

    def recount(self, before: Counts | None) -> Counts | None:
        """The counts after a change, with the next revision; None when nothing changed."""
        counts = self.counts()
        if counts == before:
            return None
        self.revision += 1
        return replace(counts, revision=self.revision)

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
        no to a place: the place moves on. (A placement staff's figure already counts
        stays in their count until they send a new one: the figure is theirs.)"""
        self.holds.pop(offer_id, None)
        self.placements.pop(offer_id, None)
        self.placement_seq.pop(offer_id, None)
        self.waitlist = [w for w in self.waitlist if w.offer_id != offer_id]
        self.closed.add(offer_id)
        if at is not None:
            self.ended_at.setdefault(offer_id, at)
        self._apply_reported()
        return self._promote()

    def place(self, offer_id: UUID, at: datetime) -> list[Decision]:
        """The provider accepted: the hold becomes a placement with the next number
        (idempotent). A hold withdrawn by a lowering while the acceptance was on its way
        still counts: the person is coming, so the place is taken."""
        self._number_placements()
        held = self.holds.pop(offer_id, None) is not None
        withdrawn: list[Decision] = []
        if offer_id not in self.closed and (held or self.decided.get(offer_id) == "withdrawn"):
            self.placements_made += 1
            self.placements[offer_id] = at
            self.placement_seq[offer_id] = self.placements_made
            if not held and self.reported is not None:
                # The withdrawn hold's person took a place after all: newer holds that no
                # longer fit the figure go, and the placement may stand above it.
                withdrawn = self._withdraw_over(self.reported)
                self._apply_reported()
        self.closed.add(offer_id)
        self.ended_at.setdefault(offer_id, at)
        return withdrawn

    def forget(self, *, before: datetime) -> None:
        """Drop what is remembered of offers that ended before `before`: no redelivery can
        reach back that far (the input topic's retention), and the ledger is rewritten to
        its changelog on every change, so it must not grow for ever."""
        for offer_id in [o for o, at in self.ended_at.items() if at < before]:
            self.closed.discard(offer_id)
            self.decided.pop(offer_id, None)
            del self.ended_at[offer_id]

    def observe(self, available: int, version: int, confirmed_at: datetime,
                counts_placements_through: int | None = None) -> list[Decision]:
        """Staff's newer figure; it counts the placements numbered up to what it states
        (a figure that states nothing, from an older intake, counts none of them)."""
        if version <= self.version:
            return []
        self._number_placements()
        self.reported, self.version, self.confirmed_at = available, version, confirmed_at
        through = max(self.counted_through, min(counts_placements_through or 0,
                                                self.placements_made))
        self.counted_through = through
        for offer_id in [o for o, seq in self.placement_seq.items() if seq <= through]:
            del self.placement_seq[offer_id]
            self.placements.pop(offer_id, None)
        withdrawn = self._withdraw_over(available)
        self._apply_reported()
        return withdrawn + self._promote()

    def _withdraw_over(self, reported: int) -> list[Decision]:
        """Staff lowered the figure under what is held: the newest holds go (their offers
        are withdrawn, the provider and the outreach worker see `capacity_lowered`)."""
        withdrawn = []
        while self.holds and len(self.holds) + len(self.placements) > reported:
            offer_id, referral_id = list(self.holds.items())[-1]
            del self.holds[offer_id]
            self.decided[offer_id] = "withdrawn"
            if self.confirmed_at is not None:
                self.ended_at.setdefault(offer_id, self.confirmed_at)
            withdrawn.append(Decision(offer_id, referral_id, "withdrawn", LOWERED))
        return withdrawn

    def _apply_reported(self) -> None:
        """Staff's figure; only placements (people, never withdrawn) may stand above it."""
        if self.reported is not None:
            self.available = max(self.reported, len(self.holds) + len(self.placements))

    def _number_placements(self) -> None:
        """Placements stored before they were numbered get the next numbers (once)."""
        for offer_id in self.placements:
            if offer_id not in self.placement_seq:
                self.placements_made += 1
                self.placement_seq[offer_id] = self.placements_made

    def _hold(self, waiting: Waiting) -> Decision:
        self.holds[waiting.offer_id] = waiting.referral_id
        self.decided[waiting.offer_id] = "held"
        return Decision(waiting.offer_id, waiting.referral_id, "held")

    def _promote(self) -> list[Decision]:
        promoted = []
        while self.waitlist and self.open_places > 0:
            promoted.append(self._hold(self.waitlist.pop(0)))
        return promoted
