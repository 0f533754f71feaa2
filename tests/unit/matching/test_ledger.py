"""The single owner of a service's places: never more holds than places, queue order kept."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.ledger import Ledger, Waiting
from services.matching.state import dump_ledger, load_ledger
from shared.events.vocabulary import Urgency

T0 = datetime(2026, 11, 24, 12, tzinfo=UTC)


def _waiting(n: int, urgency: Urgency = Urgency.WITHIN_DAYS, minutes: int = 0) -> Waiting:
    return Waiting(uuid.UUID(int=n), uuid.UUID(int=1000 + n), urgency,
                   T0 + timedelta(minutes=minutes))


def test_the_last_place_goes_once_and_the_rest_wait_or_are_refused() -> None:
    ledger = Ledger()
    ledger.observe(1, 1, T0)
    first = ledger.request(_waiting(1), join_waitlist=False)
    second = ledger.request(_waiting(2), join_waitlist=False)
    third = ledger.request(_waiting(3), join_waitlist=True)
    assert [d.outcome for d in first + second + third] == ["held", "refused", "waitlisted"]
    assert second[0].reason == "at_capacity"
    assert ledger.request(_waiting(1), join_waitlist=False)[0].outcome == "held"  # a repeat


def test_a_released_place_goes_to_the_most_urgent_then_longest_waiting() -> None:
    ledger = Ledger()
    ledger.observe(1, 1, T0)
    ledger.request(_waiting(1), join_waitlist=False)
    ledger.request(_waiting(2, Urgency.PLANNED, minutes=0), join_waitlist=True)
    ledger.request(_waiting(3, Urgency.TONIGHT, minutes=9), join_waitlist=True)
    ledger.request(_waiting(4, Urgency.TONIGHT, minutes=5), join_waitlist=True)
    promoted = ledger.release(uuid.UUID(int=1))
    assert [d.offer_id.int for d in promoted] == [4]
    more = ledger.observe(3, 2, T0 + timedelta(hours=1))
    assert [d.offer_id.int for d in more] == [3, 2]


def test_placements_count_until_a_figure_states_it_counts_them() -> None:
    ledger = Ledger()
    ledger.observe(1, 1, T0)
    ledger.request(_waiting(1), join_waitlist=False)
    ledger.place(uuid.UUID(int=1), T0 + timedelta(minutes=1))
    assert ledger.open_places == 0 and ledger.counts().pending == [1]
    # A fresher confirmation that does not say it counts placement 1 reopens nothing
    # (issue 22: "still right" once made two new offers for a full service).
    assert ledger.observe(1, 2, T0 + timedelta(minutes=2)) == []
    assert ledger.open_places == 0
    assert ledger.observe(0, 3, T0 + timedelta(minutes=3), counts_placements_through=1) == []
    assert ledger.open_places == 0 and ledger.counts().pending == []
    assert ledger.observe(1, 4, T0 + timedelta(minutes=4), counts_placements_through=1) == []
    assert ledger.open_places == 1, "staff freed a place"
    assert ledger.observe(0, 1, T0) == []  # an older figure arriving late changes nothing
    assert ledger.available == 1


def test_a_figure_cannot_count_placements_the_ledger_never_made() -> None:
    ledger = Ledger()
    ledger.observe(2, 1, T0)
    ledger.request(_waiting(1), join_waitlist=False)
    ledger.observe(2, 2, T0, counts_placements_through=5)  # a confused or hostile figure
    ledger.place(uuid.UUID(int=1), T0)
    assert ledger.counts().pending == [1] and ledger.open_places == 1


def test_a_figure_lowered_below_the_holds_withdraws_the_newest() -> None:
    ledger = Ledger()
    ledger.observe(3, 1, T0)
    for n in (1, 2, 3):
        ledger.request(_waiting(n), join_waitlist=False)
    withdrawn = ledger.observe(1, 2, T0 + timedelta(minutes=1))
    assert [(d.offer_id.int, d.outcome, d.reason) for d in withdrawn] == [
        (3, "withdrawn", "capacity_lowered"), (2, "withdrawn", "capacity_lowered")]
    assert (ledger.reported, ledger.available, list(ledger.holds)) == (1, 1, [uuid.UUID(int=1)])
    assert ledger.request(_waiting(2), join_waitlist=False)[0].outcome == "withdrawn"  # repeat
    assert ledger.request(_waiting(4), join_waitlist=True)[0].outcome == "waitlisted"
    assert ledger.release(uuid.UUID(int=1))[0].offer_id.int == 4, "the place moves on"


def test_an_acceptance_racing_a_withdrawal_still_takes_the_place() -> None:
    ledger = Ledger()
    ledger.observe(1, 1, T0)
    ledger.request(_waiting(1), join_waitlist=False)
    ledger.observe(0, 2, T0)
    ledger.place(uuid.UUID(int=1), T0)  # the provider accepted before hearing of it
    assert ledger.counts().pending == [1] and ledger.open_places == 0
    ledger.place(uuid.UUID(int=1), T0)  # a repeat numbers nothing twice
    assert ledger.placements_made == 1


def test_counts_change_only_with_what_intake_shows() -> None:
    ledger = Ledger()
    ledger.observe(2, 1, T0)
    first = ledger.recount(None)
    assert first is not None and first.revision == 1
    assert ledger.recount(first) is None
    ledger.request(_waiting(1), join_waitlist=False)
    second = ledger.recount(first)
    assert second is not None and (second.held, second.revision) == (1, 2)


operation = st.one_of(
    st.tuples(st.just("request"), st.integers(0, 30), st.sampled_from(list(Urgency)),
              st.integers(0, 600), st.booleans()),
    st.tuples(st.just("release"), st.integers(0, 30)),
    st.tuples(st.just("place"), st.integers(0, 30)),
    st.tuples(st.just("observe"), st.integers(0, 6), st.integers(0, 12)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(operation, max_size=80))
def test_never_more_holds_than_places_and_the_queue_is_served_in_order(
        operations: list[tuple[object, ...]]) -> None:
    ledger, version, clock = Ledger(), 0, T0
    for op in operations:
        clock += timedelta(seconds=1)
        before = set(ledger.holds)
        if op[0] == "request":
            _, n, urgency, minutes, wait = op
            assert isinstance(n, int) and isinstance(minutes, int)
            waiting = Waiting(uuid.UUID(int=n), uuid.UUID(int=n + 100), Urgency(urgency),
                              T0 + timedelta(minutes=minutes))
            decisions = ledger.request(waiting, join_waitlist=bool(wait))
        elif op[0] == "release":
            decisions = ledger.release(uuid.UUID(int=int(str(op[1]))))
        elif op[0] == "place":
            decisions = ledger.place(uuid.UUID(int=int(str(op[1]))), clock)
        else:
            version += 1
            decisions = ledger.observe(int(str(op[1])), version, clock,
                                       counts_placements_through=int(str(op[2])))
        committed = len(ledger.holds) + len(ledger.placements)
        assert committed <= ledger.available, "never more held and placed than the figure"
        if ledger.reported is not None:
            assert not ledger.holds or committed <= ledger.reported, "holds fit the figure"
            assert ledger.available == max(ledger.reported, len(ledger.placements))
        if set(ledger.holds) - before:  # a new hold only where the figure has room
            assert ledger.reported is not None and committed <= ledger.reported
        assert not ledger.waitlist or ledger.open_places == 0
        assert ledger.waitlist == sorted(ledger.waitlist, key=Waiting.order)
        promoted = [d for d in decisions if d.outcome == "held"]
        assert all(d.offer_id in ledger.holds for d in promoted)
        assert load_ledger(dump_ledger(ledger)) == ledger


def test_ended_offers_are_forgotten_after_the_redelivery_window() -> None:
    ledger = Ledger(available=2)
    ended, open_one = (Waiting(uuid.uuid4(), uuid.uuid4(), Urgency.TONIGHT, T0)
                       for _ in range(2))
    ledger.request(ended, join_waitlist=False)
    ledger.request(open_one, join_waitlist=False)
    ledger.release(ended.offer_id, at=T0)
    ledger.forget(before=T0)
    assert ended.offer_id in ledger.closed, "still inside the window: a repeat is refused"
    ledger.forget(before=T0 + timedelta(seconds=1))
    assert ended.offer_id not in ledger.closed and ended.offer_id not in ledger.decided
    assert list(ledger.holds) == [open_one.offer_id] and open_one.offer_id in ledger.decided
    assert load_ledger(dump_ledger(ledger)) == ledger


def test_a_ledger_stored_before_placements_were_numbered_still_loads_and_keeps_them() -> None:
    placed = uuid.UUID(int=7)
    stored = (b'{"available": 2, "reported": 2, "version": 3, "confirmed_at": null, "holds": {},'
              b' "placements": {"' + str(placed).encode() + b'": "2026-11-24T12:00:00Z"},'
              b' "waitlist": [], "decided": {}, "closed": [], "ended_at": {}, "hold_limit": 0}')
    ledger = load_ledger(stored)
    assert ledger.open_places == 1
    assert ledger.counts().pending == [1], "numbered on first use, so intake can count it"
    assert ledger.observe(2, 4, T0, counts_placements_through=1) == []
    assert ledger.placements == {} and ledger.open_places == 2


def test_a_withdrawn_holds_late_acceptance_takes_the_place_of_a_newer_hold() -> None:
    """Found by the property test above after issue 22's merge: figure 2, holds for two
    offers, staff lower to 1 (the newest hold goes), then that offer's acceptance arrives
    after all. The person is coming, so the place is taken, and the other hold no longer
    fits the figure: it is withdrawn too, never held beside the placement."""
    ledger = Ledger()
    ledger.observe(2, 1, T0)
    ledger.request(_waiting(2), join_waitlist=False)
    ledger.request(_waiting(1), join_waitlist=False)
    [lowered] = ledger.observe(1, 2, T0 + timedelta(minutes=1))
    assert (lowered.offer_id, lowered.outcome) == (uuid.UUID(int=1), "withdrawn")
    decisions = ledger.place(uuid.UUID(int=1), T0 + timedelta(minutes=2))
    assert [(d.offer_id, d.outcome) for d in decisions] == [(uuid.UUID(int=2), "withdrawn")]
    assert not ledger.holds and list(ledger.placements) == [uuid.UUID(int=1)]
    assert ledger.available == 1
