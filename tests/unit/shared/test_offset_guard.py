"""The commit guard's rules (shared/offset_guard.py), without a broker.

Broker proof: tests/integration/matching/test_restarts.py, where workers join, leave
and are killed under steady submissions.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shared.offset_guard import (
    HOLD_S,
    ReadOffsets,
    StallWatch,
    commit_blocked,
    committed_offset,
    rewind_target,
)


def test_a_commit_waits_for_the_record_at_the_committed_offset() -> None:
    # Faust would commit 46 here, taking 44 for a compaction hole.
    assert commit_blocked(committed=44, acked=[45])
    assert commit_blocked(committed=44, acked=[46, 45])
    assert not commit_blocked(committed=44, acked=[44, 45])
    assert not commit_blocked(committed=44, acked=[])
    assert not commit_blocked(committed=None, acked=[3])  # a new group: Faust's own rule


@given(committed=st.integers(0, 1_000), acked=st.sets(st.integers(0, 1_100), max_size=30))
def test_an_unblocked_commit_never_passes_an_unacked_record(committed: int,
                                                            acked: set[int]) -> None:
    """What Faust commits when not blocked (the first run of consecutive acked offsets,
    from the lowest one) leaves no offset at or after `committed` unacked."""
    eligible = sorted(offset for offset in acked if offset >= committed)
    if commit_blocked(committed=committed, acked=eligible) or not eligible:
        return
    run = [eligible[0]]
    for offset in eligible[1:]:
        if offset != run[-1] + 1:
            break
        run.append(offset)
    assert set(range(committed, run[-1] + 1)) <= acked


def test_a_rewind_after_a_jump_never_skips_the_record_at_the_read_position() -> None:
    # Right after a seek to 40 Faust's read position is 40 (next to read), and a jump
    # to 45 is reported from 41: the rewind must fetch 40 again.
    assert rewind_target(offset_from=41) == 40
    assert rewind_target(offset_from=0) == 0


def test_a_partition_is_rewound_when_blocked_at_the_same_offset_twice() -> None:
    watch = StallWatch()
    assert watch.due({"p1": 44}) == ([], [])  # first look: maybe a seek in progress
    assert watch.due({"p1": 44, "p2": 7}) == (["p1"], [])
    assert watch.due({"p2": 8}) == ([], [])  # p2 moved: not the same blockage
    assert watch.due({"p2": 8}) == (["p2"], [])


def test_a_partition_no_longer_blocked_starts_afresh() -> None:
    watch = StallWatch()
    watch.due({"p1": 44})
    watch.due({})
    assert watch.due({"p1": 44}) == ([], [])


def test_a_record_that_never_comes_back_is_given_up_on_after_the_limit() -> None:
    watch = StallWatch(give_up_after=2)
    rewinds = []
    for _ in range(8):
        rewind, give_up = watch.due({"p1": 44})
        rewinds += rewind
        if give_up:
            break
    assert rewinds == ["p1", "p1"]
    assert give_up == ["p1"]
    assert watch.gave_up_on("p1", 44)
    assert not watch.gave_up_on("p1", 45)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_rewound_position_holds_until_the_rewound_record_comes() -> None:
    clock = Clock()
    offsets = ReadOffsets({"p1": 60}, clock=clock)
    offsets.hold("p1", 44)
    offsets["p1"] = 61  # a record fetched before the seek, still draining
    assert offsets["p1"] == 44 and offsets.held("p1")
    offsets["p1"] = 44  # the rewound record itself
    assert offsets["p1"] == 44 and not offsets.held("p1")
    offsets["p1"] = 45
    assert offsets["p1"] == 45


def test_a_hold_expires_so_a_later_seek_of_fausts_own_is_not_overruled_for_long() -> None:
    clock = Clock()
    offsets = ReadOffsets({}, clock=clock)
    offsets.hold("p1", 44)
    offsets["p1"] = 90
    assert offsets["p1"] == 44
    clock.now = HOLD_S + 1
    offsets["p1"] = 90
    assert offsets["p1"] == 90


def test_a_seek_to_committed_offsets_clears_every_hold() -> None:
    offsets = ReadOffsets({}, clock=Clock())
    offsets.hold("p1", 44)
    offsets.update({"p1": 50})
    offsets["p1"] = 51
    assert offsets["p1"] == 51
    assert offsets["unknown"] is None


def test_a_commit_of_zero_is_taken_as_zero_not_as_nothing() -> None:
    """Faust stores a commit of 0 as None; the first records of a new topic were then
    committed over when skipped (the guard saw no committed offset to hold on to)."""
    from collections import defaultdict
    from types import SimpleNamespace

    consumer = SimpleNamespace(_committed_offset=defaultdict(lambda: None, {"p2": 7}))
    assert committed_offset(consumer, "p1") == 0
    assert committed_offset(consumer, "p2") == 7
    assert commit_blocked(committed=committed_offset(consumer, "p1"), acked=[16, 17])
