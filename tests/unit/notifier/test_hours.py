"""Safe hours: a message is held until the person's own clock says it is safe, never dropped."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.notifier.hours import next_allowed, within
from services.notifier.model import ContactHours

ZONES = ["Europe/Amsterdam", "America/Bogota", "Asia/Kolkata", "Pacific/Auckland", "UTC",
         "America/New_York"]


def test_a_message_due_at_three_in_the_morning_waits_until_nine_local() -> None:
    hours = ContactHours(time(9), time(20), "Europe/Amsterdam")
    three_am_local = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 03:00 in Amsterdam (UTC+1)
    assert not within(hours, three_am_local)
    assert next_allowed(hours, three_am_local) == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_inside_the_window_goes_at_once() -> None:
    hours = ContactHours(time(9), time(20), "America/Bogota")
    noon_bogota = datetime(2026, 6, 1, 17, 0, tzinfo=UTC)
    assert next_allowed(hours, noon_bogota) == noon_bogota


def test_after_the_window_waits_until_the_next_morning() -> None:
    hours = ContactHours(time(9), time(20), "Europe/Amsterdam")
    late = datetime(2026, 6, 1, 20, 30, tzinfo=UTC)  # 22:30 summer time
    assert next_allowed(hours, late) == datetime(2026, 6, 2, 7, 0, tzinfo=UTC)


def test_a_window_across_midnight() -> None:
    hours = ContactHours(time(22), time(2), "UTC")
    assert within(hours, datetime(2026, 1, 1, 23, 30, tzinfo=UTC))
    assert within(hours, datetime(2026, 1, 2, 1, 59, tzinfo=UTC))
    assert next_allowed(hours, datetime(2026, 1, 2, 3, tzinfo=UTC)) == datetime(
        2026, 1, 2, 22, tzinfo=UTC)


def test_a_start_inside_the_spring_forward_gap_moves_to_the_first_real_minute() -> None:
    hours = ContactHours(time(2, 30), time(5), "Europe/Amsterdam")  # 02:30 does not exist 29 March
    before = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
    allowed = next_allowed(hours, before)
    assert within(hours, allowed)
    assert allowed == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 summer time


@given(zone=st.sampled_from(ZONES), start=st.integers(0, 23), length=st.integers(1, 23),
       at=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1),
                       timezones=st.just(UTC)))
def test_the_release_is_inside_the_window_and_never_early(zone: str, start: int, length: int,
                                                         at: datetime) -> None:
    hours = ContactHours(time(start), time((start + length) % 24), zone)
    released = next_allowed(hours, at)
    assert released >= at
    assert within(hours, released)
    assert released - at < timedelta(days=1, hours=2)
    if within(hours, at):
        assert released == at
    else:  # the minute before the release was outside: nothing earlier was allowed
        assert not within(hours, released - timedelta(minutes=1)) or released - at < timedelta(
            minutes=1)
