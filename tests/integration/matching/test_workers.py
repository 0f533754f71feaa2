"""Two matching worker processes on the real broker: no double-booking, and a SIGKILL
mid-run loses nothing and duplicates nothing."""

from __future__ import annotations

import signal
import time
import uuid
from collections import Counter

import pytest

from shared.events import HoldDecided
from tests.support.matching_run import MatchingRun

pytestmark = pytest.mark.slow


def _held(decisions: list[HoldDecided]) -> dict[uuid.UUID, HoldDecided]:
    """Distinct offers that got a place (a redelivered decision has the same offer id)."""
    return {d.offer_id: d for d in decisions if d.outcome == "held"}


def test_200_referrals_racing_for_20_places_get_exactly_20(run: MatchingRun) -> None:
    run.start_worker("a")
    run.start_worker("b")
    services = run.publish_directory([5, 5, 5, 5])
    time.sleep(3)  # let both workers' directory copies and the ledgers take the figures
    referrals = run.submit(100, accepts_waitlist=True) + run.submit(100, accepts_waitlist=False)
    statuses = run.statuses(referrals, timeout_s=180)
    unsettled = [r for r, s in statuses.items() if not s or s[-1].status.value not in (
        "offered", "waitlisted", "returned")]
    assert unsettled == [], (f"{len(unsettled)} referrals never settled", Counter(
        (s[-1].status.value, s[-1].reason) if s else ("nothing", "") for r, s in
        statuses.items() if r in unsettled))
    held = _held(run.hold_decisions(services))
    assert len(held) == 20, Counter(d.service_id for d in held.values())
    assert all(n <= 5 for n in Counter(d.service_id for d in held.values()).values())
    offered = [r for r, s in statuses.items() if s[-1].status.value == "offered"]
    assert len(offered) == 20 and {d.referral_id for d in held.values()} == set(offered)
    waiting = [r for r, s in statuses.items() if s[-1].status.value == "waitlisted"]
    assert len(waiting) == 80, "the other half does not accept a waiting list"


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(run: MatchingRun) -> None:
    run.start_worker("a")
    victim = run.start_worker("b")
    services = run.publish_directory([10, 10])
    time.sleep(3)
    first = run.submit(60)
    time.sleep(1.5)  # part of the batch is being processed when the worker dies
    victim.stop(signal.SIGKILL)
    second = run.submit(60)
    run.start_worker("b")
    referrals = first + second
    statuses = run.statuses(referrals, timeout_s=180)
    unsettled = [r for r, s in statuses.items() if not s or s[-1].status.value not in (
        "offered", "waitlisted")]
    assert unsettled == [], (f"{len(unsettled)} referrals never settled", Counter(
        (s[-1].status.value, s[-1].reason) if s else ("nothing", "") for r, s in
        statuses.items() if r in unsettled))
    held = _held(run.hold_decisions(services))
    assert len(held) == 20
    per_referral = Counter(d.referral_id for d in held.values())
    assert max(per_referral.values()) == 1, "no referral got a second, different offer"
    offered = {r for r, s in statuses.items() if s[-1].status.value == "offered"}
    assert offered == set(per_referral) and len(offered) == 20
