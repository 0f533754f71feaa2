"""Referrals per second through one matching worker process on the real broker.

Each referral costs the worker: open the sealed profile, rank, ask the service's owner
for a hold, decide it, turn it into a sealed offer and two sealed status events, with
every output acknowledged before the table write. The figure is compared with the
sealed produce-and-consume rate of the same broker in the same run (bench/crypto.py),
because that ratio survives a noisy machine and seconds do not.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bench import crypto
from shared.settings import KafkaSettings
from tests.support.matching_run import MatchingRun


def run(settings: KafkaSettings, referrals: int = 300) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        matching = MatchingRun(Path(folder), settings)
        try:
            matching.start_worker("bench")
            matching.publish_directory([referrals] * 4)  # room for everyone: no waitlist
            time.sleep(3)  # the worker's directory copy and the ledgers take the figures
            started = time.time()
            ids = matching.submit(referrals)
            statuses = matching.statuses(ids, timeout_s=600)
        finally:
            matching.stop()
        sealed = crypto.pipeline(settings, events=2000)["sealed_events_per_s"]
    offered = [s[-1] for s in statuses.values() if s and s[-1].status.value == "offered"]
    last = max(s.changed_at.timestamp() for s in offered) if offered else time.time()
    per_s = len(offered) / max(last - started, 1e-6)
    return {"referrals": referrals, "offered": len(offered),
            "seconds": last - started, "referrals_per_s": per_s,
            "sealed_pipeline_events_per_s": sealed,
            "ratio_referrals_to_sealed_events": per_s / sealed}
