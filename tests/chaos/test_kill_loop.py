"""The kill loop of issue 18: SIGKILLs of matching, notifier, intake and the broker under
steady load lose, duplicate and double-book nothing.

`make test` runs the bounded form (about 5 minutes, 20+ kills); `make chaos` the long
one (HAVEN_CHAOS_MINUTES and friends, see tests/support/chaos.py). The run always uses
a broker of its own, started by `haven up` on free ports and stopped after, so the
shared broker is never touched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.chaos import ChaosPlan, run_kill_loop

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


@pytest.mark.timeout(3600)
def test_nothing_is_lost_stuck_or_doubled_under_kills(tmp_path: Path) -> None:
    plan = ChaosPlan.from_env()
    figures = run_kill_loop(tmp_path / "chaos", plan)
    print("\n" + figures.table())
    assert sum(figures.kills.values()) >= min(20, int(plan.minutes * 60 / plan.kill_every_s)), (
        figures.table())
    assert figures.failures() == [], figures.table()
