"""A settled case leaves the worker's table, and its changelog, after the retention time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.events import ConsentChanged, ConsentGrant
from shared.events.vocabulary import ConsentScope
from tests.support.kafka import read_until
from tests.support.matching_run import MatchingRun

pytestmark = pytest.mark.slow


def test_a_withdrawn_case_is_forgotten_with_a_tombstone_and_an_open_one_is_kept(
        run: MatchingRun) -> None:
    worker = run.start_worker("a", keep_settled_hours="0.001")  # 3.6 seconds
    run.publish_directory([0])  # full: a referral waits in its queue, holding a spot
    withdrawn, kept = run.submit(2, accepts_waitlist=True)
    assert run.statuses([withdrawn, kept], timeout_s=60)
    run.answer(ConsentChanged(referral_id=withdrawn, changed_at=datetime.now(UTC),
                              grant=ConsentGrant(scope=ConsentScope.SHARE_PROFILE,
                                                 granted=False)))
    changelog = f"{run.app_id}-cases-changelog"

    def forgotten(records: list) -> bool:  # type: ignore[type-arg]
        return any(r.key == str(withdrawn).encode() and r.value is None for r in records)

    records = read_until(run.kafka.bootstrap_servers, changelog, forgotten, timeout_s=60)
    assert forgotten(records), worker.log_file.read_text()[-3000:]
    latest = {r.key: r.value for r in records}
    assert latest[str(withdrawn).encode()] is None, "the tombstone is the last word"
    assert latest[str(kept).encode()] is not None, "a case still waiting is kept"
    assert "settled case forgotten" in worker.log_file.read_text()
