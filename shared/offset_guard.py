"""Faust's offset commits, made unable to pass a record that no handler finished (issue 18).

A committed offset is a promise: every record before it was handled. Faust keeps that
promise in calm weather only. Around a rebalance, records are skipped and acked as if
handled, fetched batches are cut short, and seeks fail; and its commit rule takes the
record at the committed offset as a compaction hole whenever the next one was acked,
so a single skipped record there is committed over (faust/transport/consumer.py
`_new_offset`: `min(acked) - committed > 1`). Each of these lost submissions in our
broker tests, one or a few offsets at a time.

The guard here does not chase each path. On an append-only topic (no compaction,
no transactions) offsets have no holes, so it states the rule plainly:

- only a record a stream took (and the handler finished) is acknowledged;
- a commit moves only over acknowledged offsets that start at the committed one;
- a partition whose commit is blocked at the same offset on two looks in a row, with
  nothing of it in flight, is rewound to that offset: the records from there are read
  and handled again (every handler takes a repeat as a repeat).

So a record can be handled twice but never committed unhandled. On a compacted topic
holes are normal; there the guard only refuses to count an offset jump as handled.
The rules are pure functions below; `guard` wires them into a Faust consumer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("haven.offsets")

#: After this many rewinds to one offset without it coming back, the record there is
#: taken as gone from the log (retention), and commits may pass it (with an error).
REWINDS_BEFORE_GIVING_UP = 5
#: How long a rewind keeps the read position at its target while records fetched
#: before it drain (longer only if a later seek of Faust's own was overruled).
HOLD_S = 30.0


def commit_blocked(*, committed: int | None, acked: Collection[int]) -> bool:
    """True when the lowest acknowledged offset is past the committed one.

    The record at the committed offset was not handled; on an append-only topic it
    exists, so the acknowledged ones after it may not be committed yet.
    """
    return committed is not None and bool(acked) and min(acked) > committed


def rewind_target(*, offset_from: int) -> int:
    """Where to seek back after an offset jump that began at `offset_from`.

    Faust reports a jump from one past its read position, and that position means
    "last read" after a fetch but "next to read" after a seek. Going back one more
    re-reads at most one handled record and never skips one.
    """
    return max(offset_from - 1, 0)


@dataclass
class StallWatch:
    """Which blocked partitions to rewind: those blocked at the same offset on two looks.

    One look could catch a commit in the instant between a rebalance's seek and the
    first record after it; the same offset blocked a look later, with nothing of the
    partition in flight, is a record that will not come by itself.
    """

    give_up_after: int = REWINDS_BEFORE_GIVING_UP
    _last_look: dict[Any, int] = field(default_factory=dict)
    _rewinds: dict[tuple[Any, int], int] = field(default_factory=dict)
    given_up: set[tuple[Any, int]] = field(default_factory=set)

    def due(self, blocked: Mapping[Any, int]) -> tuple[list[Any], list[Any]]:
        """The partitions to rewind now, and those given up on at this look.

        `blocked` maps each blocked partition to its committed offset.
        """
        repeated = [tp for tp, offset in blocked.items()
                    if self._last_look.get(tp) == offset and (tp, offset) not in self.given_up]
        self._last_look = {tp: offset for tp, offset in blocked.items() if tp not in repeated}
        rewind, give_up = [], []
        for tp in repeated:
            key = (tp, blocked[tp])
            self._rewinds[key] = self._rewinds.get(key, 0) + 1
            if self._rewinds[key] > self.give_up_after:
                self.given_up.add(key)
                give_up.append(tp)
            else:
                rewind.append(tp)
        return rewind, give_up

    def gave_up_on(self, tp: Any, committed: int | None) -> bool:
        return (tp, committed) in self.given_up


class ReadOffsets(dict[Any, Any]):
    """Faust's read positions, except that after a rewind a position stays at its target
    until the rewound record comes (or HOLD_S passed): else the fetch loop would record
    the offsets of records fetched before the seek and drop the refetched ones as read."""

    def __init__(self, current: Mapping[Any, Any], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(current)
        self._held: dict[Any, tuple[int, float]] = {}
        self._clock = clock

    def hold(self, tp: Any, offset: int) -> None:
        self._held[tp] = (offset, self._clock() + HOLD_S)
        super().__setitem__(tp, offset)

    def held(self, tp: Any) -> bool:
        hold = self._held.get(tp)
        if hold is not None and self._clock() > hold[1]:
            del self._held[tp]
            return False
        return hold is not None

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Faust's seek to committed offsets: that position wins over any rewind."""
        self._held.clear()
        super().update(*args, **kwargs)

    def pop(self, tp: Any, *default: Any) -> Any:
        self._held.pop(tp, None)
        return super().pop(tp, *default)

    def __delitem__(self, tp: Any) -> None:
        self._held.pop(tp, None)
        super().__delitem__(tp)

    def __missing__(self, tp: Any) -> None:
        return None  # Faust's own is a defaultdict(lambda: None)

    def __setitem__(self, tp: Any, offset: Any) -> None:
        if self.held(tp) and offset is not None and offset > self._held[tp][0]:
            return  # a record fetched before the rewind: keep the rewind's position
        self._held.pop(tp, None)
        super().__setitem__(tp, offset)


def guard(consumer: Any, *, acks_enabled_for: Callable[[str], bool],
          compacted: Collection[str]) -> StallWatch:
    """Wire the rules into a Faust consumer; returns the watch `rewind_stalled` uses."""
    acknowledge = consumer.ack
    new_offset = consumer._new_offset
    watch = StallWatch()
    read_offsets = ReadOffsets(consumer._read_offset)

    def ack(message: Any) -> bool:
        if not message.tracked and acks_enabled_for(message.topic):
            return False  # skipped, not handled: to be fetched and handled again
        return bool(acknowledge(message))

    def strict_new_offset(tp: Any) -> int | None:
        committed = committed_offset(consumer, tp)
        if (tp.topic not in compacted and commit_blocked(
                committed=committed, acked=consumer._acked.get(tp, ()))
                and not watch.gave_up_on(tp, committed)):
            return None
        return new_offset(tp)  # type: ignore[no-any-return]

    async def add_gap(tp: Any, offset_from: int, offset_to: int) -> None:
        if tp.topic in compacted:
            return  # a hole of compaction: not counted as handled, nothing to fetch
        if read_offsets.held(tp):
            return  # records fetched before a rewind still draining
        target = rewind_target(offset_from=offset_from)
        log.warning("offset jump not counted as processed; reading again from offset",
                    extra={"topic": tp.topic, "partition": tp.partition, "offset": target})
        await _rewind(consumer, read_offsets, tp, target)

    setattr(consumer, "ack", ack)  # noqa: B010  # an instance attribute wins over the method
    setattr(consumer, "_new_offset", strict_new_offset)  # noqa: B010
    setattr(consumer, "_add_gap", add_gap)  # noqa: B010
    setattr(consumer, "_read_offset", read_offsets)  # noqa: B010
    setattr(consumer, "_haven_stall_watch", watch)  # noqa: B010
    return watch


async def rewind_stalled(consumer: Any, *, compacted: Collection[str]) -> list[Any]:
    """Rewind each assigned append-only partition whose commit stays blocked (see module)."""
    watch: StallWatch = consumer._haven_stall_watch
    in_flight = {(message.tp, message.offset) for message in list(consumer.unacked)
                 if not message.acked}
    blocked: dict[Any, int] = {}
    for tp in consumer.assignment():
        if tp.topic in compacted:
            continue
        committed = committed_offset(consumer, tp)
        acked = consumer._acked.get(tp, ())
        if commit_blocked(committed=committed, acked=acked) and not any(
                held_tp == tp and offset < min(acked) for held_tp, offset in in_flight):
            blocked[tp] = committed
    rewind, give_up = watch.due(blocked)
    for tp in give_up:
        log.error("record not found again after rewinds; commits may pass it",
                  extra={"topic": tp.topic, "partition": tp.partition, "offset": blocked[tp]})
    rewound = []
    for tp in rewind:
        log.warning("commit blocked by a record never handled; reading again from it",
                    extra={"topic": tp.topic, "partition": tp.partition,
                           "offset": blocked[tp]})
        if await _rewind(consumer, consumer._read_offset, tp, blocked[tp]):
            rewound.append(tp)
    return rewound


def committed_offset(consumer: Any, tp: Any) -> int:
    """The committed offset of an append-only partition as Kafka has it.

    Faust keeps a commit of 0 as None ("nothing committed"), and its commit rule then
    takes any run of acked offsets; a group that starts at the beginning has in fact
    committed 0, and the first records of a new topic were lost that way. A group
    with no commit at all reads from the earliest offset, 0 unless retention removed
    records; then the watch gives up on offset 0 after its rewinds (logged).
    """
    committed = consumer._committed_offset.get(tp)
    return 0 if committed is None else int(committed)


async def _rewind(consumer: Any, read_offsets: ReadOffsets, tp: Any, offset: int) -> bool:
    try:
        await consumer.seek(tp, offset)
    except Exception as error:  # not assigned any more: its next owner reads it
        log.warning("rewind failed", extra={"reason": type(error).__name__})
        return False
    read_offsets.hold(tp, offset)
    return True
