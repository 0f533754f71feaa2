"""Intake, matching and the broker as real processes: a sealed referral reaches matching,
its status comes back to the timeline, and erasure tombstones every key grant."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from shared import topics
from shared.records import IncomingRecord
from shared.settings import KafkaSettings
from tests.support.intake_process import IntakeUnderTest
from tests.support.kafka import read_until
from tests.support.processes import ServiceProcess


@pytest.mark.slow
def test_submitted_referral_reaches_matching_and_comes_back_as_status(
    kafka_broker: KafkaSettings, tmp_path: Path
) -> None:
    intake = IntakeUnderTest(tmp_path, kafka_broker.bootstrap_servers)
    matching = ServiceProcess("services.matching", log_file=tmp_path / "matching.log",
                              env={"HAVEN_VAR_DIR": str(tmp_path),
                                   "HAVEN_KAFKA_BOOTSTRAP_SERVERS":
                                       kafka_broker.bootstrap_servers})
    try:
        matching.wait_for_log("Worker ready")
        intake.start()
        [referral] = intake.submit(1)
        headers = {"Authorization": f"Bearer {intake.token()}"}
        deadline = time.monotonic() + 60
        kinds: list[str] = []
        while "status:returned" not in kinds and time.monotonic() < deadline:
            detail = httpx.get(f"{intake.url}/api/v1/referrals/{referral}", headers=headers)
            kinds = [item["kind"] for item in detail.json()["timeline"]]
            time.sleep(0.3)
        # This test's directory is empty (it published none), so matching acknowledges
        # the referral and then returns it: nobody could be offered.
        assert kinds[:3] == ["submitted", "status:matching", "status:returned"], (
            kinds, matching.tail())
        assert detail.json()["status"] == "returned"
        erased = httpx.post(f"{intake.url}/api/v1/referrals/{referral}/erase", headers=headers)
        assert erased.status_code == 204
        prefix = referral.encode() + b"/"

        def every_grant_tombstoned(records: list[IncomingRecord]) -> bool:
            latest = {r.key: r.value for r in records if (r.key or b"").startswith(prefix)}
            return len(latest) >= 5 and all(value is None for value in latest.values())

        grants = read_until(kafka_broker.bootstrap_servers, topics.REFERRAL_KEYS.name,
                            done=every_grant_tombstoned, timeout_s=60)
        assert every_grant_tombstoned(grants), "intake must tombstone every grant, any producer's"
    finally:
        if intake.process is not None:
            intake.process.stop()
        matching.stop()
