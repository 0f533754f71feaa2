"""Intake's rules for a service's places: one truth shared with matching's ledger.

Pure. Staff's figure (`available`) is the number of open places as staff counted them,
with Haven's placements numbered up to `counted_through` already in that count. What
matching's ledger reports (`CapacityCounted`) adds what staff cannot know: places held
for open offers (`held`) and Haven's placements since (`pending`, by number). So:

    placed = Haven's placements the figure does not count yet
    open   = available - placed - held        (never below 0)

Every staff action (a new figure, +1/-1, "still right") counts in the placements intake
knows of and says so (`counted_through`), so the ledger drops exactly those and keeps any
placement intake had not heard of yet: no order of events can reopen a filled place
(docs/directory.md, "One truth for a service's places").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


class FigureRefused(ValueError):
    """A figure outside 0 to the maximum; the message says what to send instead."""


@dataclass(frozen=True)
class Places:
    available: int = 0          # staff's open places, counting placements to counted_through
    maximum: int = 0
    counted_through: int = 0    # the last Haven placement number staff's figure counts
    held: int = 0               # places held by open offers (matching's ledger)
    pending: tuple[int, ...] = field(default=())  # numbers of placements not yet counted
    placements_through: int = 0  # the last placement number matching gave
    revision: int = 0           # the ledger's revision these counts come from

    @property
    def placed(self) -> int:
        """Haven's placements that staff's figure does not count yet."""
        return sum(1 for number in self.pending if number > self.counted_through)

    @property
    def open(self) -> int:
        """What matching may still offer: staff's open places less Haven's share."""
        return max(0, self.available - self.placed - self.held)

    @property
    def open_now(self) -> int:
        """Open places counting Haven's placements in (what "still right" confirms)."""
        return max(0, self.available - self.placed)


def set_figure(places: Places, *, available: int, maximum: int | None = None) -> Places:
    """Staff's count of open places now, Haven's placements shown to them included."""
    top = places.maximum if maximum is None else maximum
    if available > top:
        raise FigureRefused(f"available: {available} open places is more than the maximum "
                            f"of {top}; raise the maximum too.")
    return replace(places, available=available, maximum=top,
                   counted_through=places.placements_through)


def change_figure(places: Places, *, change: int) -> Places:
    """One place taken (-1) or freed (+1), counted from the open places now."""
    figure = places.open_now + change
    if not 0 <= figure <= places.maximum:
        raise FigureRefused(
            f"change: {change:+d} would take open places from {places.open_now} to "
            f"{figure}, outside 0 to the maximum ({places.maximum}); send the current "
            "count with PUT instead.")
    return replace(places, available=figure, counted_through=places.placements_through)


def confirm_figure(places: Places) -> Places:
    """"Still right": the open places now (Haven's placements counted in) are confirmed."""
    return replace(places, available=places.open_now,
                   counted_through=places.placements_through)


def counted(places: Places, *, held: int, pending: list[int], placements_through: int,
            revision: int) -> Places:
    """The ledger's newer counts; an older or repeated revision changes nothing."""
    if revision <= places.revision:
        return places
    return replace(places, held=held, pending=tuple(pending),
                   placements_through=max(placements_through, places.placements_through),
                   revision=revision)

