"""Safe hours in the person's own time zone: when a held message may go out.

A message due outside the hours is held until the next moment inside them, never
dropped; the zone's daylight-saving changes are respected through zoneinfo.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.notifier.model import ContactHours

_MINUTE = timedelta(minutes=1)


def within(hours: ContactHours, at: datetime) -> bool:
    """Is `at` (any aware datetime) inside the window, as the person's clock shows it?"""
    local = at.astimezone(ZoneInfo(hours.timezone)).time().replace(tzinfo=None)
    return _inside(hours.start, hours.end, local)


def next_allowed(hours: ContactHours, at: datetime) -> datetime:
    """The earliest instant at or after `at` inside the window (UTC); `at` itself if inside.

    Windows may cross midnight (22:00-02:00); equal start and end mean all day.
    """
    if within(hours, at):
        return at.astimezone(UTC)
    zone = ZoneInfo(hours.timezone)
    day = at.astimezone(zone).date()
    for offset in range(-1, 3):
        local = datetime.combine(day + timedelta(days=offset), hours.start, tzinfo=zone)
        # A start inside a daylight-saving gap does not exist: find the first real minute.
        candidate = local.astimezone(UTC)
        while not within(hours, candidate):
            candidate += timedelta(minutes=1)
        while candidate - _MINUTE >= at and within(hours, candidate - _MINUTE):
            candidate -= _MINUTE
        if candidate >= at:
            return candidate
    raise AssertionError("a daily window always opens within two days")  # pragma: no cover


def _inside(start: time, end: time, local: time) -> bool:
    if start == end:
        return True
    if start < end:
        return start <= local < end
    return local >= start or local < end
