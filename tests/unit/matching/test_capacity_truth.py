"""Issue 22: matching's ledger and intake's capacity rules together never overbook.

One service with a real number of places, honest staff who report what they see, and
Haven offering, placing and releasing through the ledger. Intake hears the ledger's
counts only when the random sequence says so (`sync`), so staff act on a stale view,
as they do on the broker. After every step: places held + people Haven placed + people
staff took in outside Haven <= the places that really exist.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.directory import capacity_rules as rules
from services.intake.directory.capacity_rules import FigureRefused, Places
from services.matching.ledger import Ledger, Waiting
from shared.events.vocabulary import Urgency

T0 = datetime(2026, 12, 3, 9, tzinfo=UTC)


@dataclass
class World:
    beds: int                                  # places that really exist
    outside: int                               # people staff took in outside Haven
    ledger: Ledger = field(default_factory=Ledger)
    places: Places = field(default_factory=Places)
    present: set[uuid.UUID] = field(default_factory=set)  # people Haven placed, still there
    version: int = 0
    clock: datetime = T0

    def __post_init__(self) -> None:
        self.staff(lambda p: rules.set_figure(p, available=self.free, maximum=self.beds))

    @property
    def free(self) -> int:
        """What staff see with their own eyes: beds nobody sleeps in."""
        return self.beds - self.outside - len(self.present)

    def staff(self, action: object) -> None:
        """A staff action through intake's rules, announced to the ledger at once."""
        assert callable(action)
        try:
            self.places = action(self.places)
        except FigureRefused:  # intake's view says no: staff send their count instead
            self.places = rules.set_figure(self.places, available=self.free,
                                           maximum=self.beds)
        self.version += 1
        self.ledger.observe(self.places.available, self.version, self.clock,
                            counts_placements_through=self.places.counted_through)

    def sync(self) -> None:
        counts = self.ledger.recount(None)
        assert counts is not None
        self.places = rules.counted(self.places, held=counts.held, pending=counts.pending,
                                    placements_through=counts.placements_through,
                                    revision=counts.revision)


# Offers, acceptances and staff's clicks weigh more: today's bug needs a few of each.
OPS = st.sampled_from(["offer", "offer", "offer", "wait", "accept", "accept", "decline",
                       "expire", "person_declines", "leave", "outside_in", "outside_out",
                       "confirm", "confirm", "new_beds"])
step = st.tuples(OPS, st.integers(0, 7), st.booleans())  # then: intake hears the ledger?


def _apply(world: World, op: str, n: int, serial: int) -> None:
    ledger = world.ledger
    holds, placed = list(ledger.holds), sorted(world.present)
    if op in {"offer", "wait"}:
        offer = uuid.UUID(int=serial)
        ledger.request(Waiting(offer, uuid.UUID(int=10_000 + serial), Urgency.TONIGHT,
                               world.clock), join_waitlist=op == "wait")
    elif op == "accept" and holds:
        offer = holds[n % len(holds)]
        ledger.place(offer, world.clock)
        world.present.add(offer)
    elif op in {"decline", "expire"} and holds:
        ledger.release(holds[n % len(holds)], at=world.clock)
    elif op == "person_declines" and placed:  # said no to the place after all
        offer = placed[n % len(placed)]
        ledger.release(offer, at=world.clock)
        world.present.discard(offer)
    elif op == "leave" and placed:  # someone Haven placed moves on; staff free the place
        world.present.discard(placed[n % len(placed)])
        world.staff(lambda p: rules.change_figure(p, change=1))
    elif op == "outside_in" and world.free > 0:
        world.outside += 1
        world.staff(lambda p: rules.change_figure(p, change=-1))
    elif op == "outside_out" and world.outside > 0:
        world.outside -= 1
        world.staff(lambda p: rules.change_figure(p, change=1))
    elif op == "confirm":  # the daily reminder: "still right"
        world.staff(rules.confirm_figure)
    elif op == "new_beds":  # beds opened or closed; never one somebody sleeps in
        world.beds = max(world.outside + len(world.present), n)
        world.staff(lambda p: rules.set_figure(p, available=world.free, maximum=world.beds))


@settings(max_examples=400, deadline=None)
@given(beds=st.integers(1, 4), outside=st.integers(0, 2), steps=st.lists(step, max_size=30))
def test_holds_and_placements_never_exceed_the_places_that_exist(
        beds: int, outside: int, steps: list[tuple[str, int, bool]]) -> None:
    world = World(beds=beds, outside=min(outside, beds))
    for serial, (op, n, heard) in enumerate(steps, start=1):
        world.clock += timedelta(minutes=1)
        _apply(world, op, n, serial)
        assert len(world.ledger.holds) + len(world.present) + world.outside <= world.beds, (
            f"overbooked after {op}")
        if heard:  # intake's view catches up: it shows exactly what the ledger counts
            world.sync()
            assert world.places.held == len(world.ledger.holds)
            assert world.places.placed == len(world.ledger.placements)
            assert world.places.open == world.ledger.open_places


def test_still_right_after_haven_filled_both_places_reopens_nothing() -> None:
    """Issue 22, first scenario, on the pure rules."""
    world = World(beds=2, outside=0)
    for serial in (1, 2):
        _apply(world, "offer", 0, serial)
        _apply(world, "accept", 0, serial)
    world.sync()
    world.staff(rules.confirm_figure)
    assert world.ledger.open_places == 0 and world.places.available == 0
    world.staff(lambda p: rules.change_figure(p, change=1))  # accepted, not a 422
    assert world.places.available == 1 and world.ledger.open_places == 1


def test_a_confirmation_before_intake_heard_of_the_placements_keeps_them() -> None:
    world = World(beds=2, outside=0)
    for serial in (1, 2):
        _apply(world, "offer", 0, serial)
        _apply(world, "accept", 0, serial)
    world.staff(rules.confirm_figure)  # intake has not heard of the placements yet
    assert world.ledger.open_places == 0 and world.places.available == 2
    world.sync()
    assert (world.places.placed, world.places.open) == (2, 0)

