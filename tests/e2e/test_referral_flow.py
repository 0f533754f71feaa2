"""Intake, matching and the broker as real processes: a referral's timeline shows matching."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from shared.settings import KafkaSettings
from tests.support.intake_process import IntakeUnderTest
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
        while "status:matching" not in kinds and time.monotonic() < deadline:
            detail = httpx.get(f"{intake.url}/api/v1/referrals/{referral}", headers=headers)
            kinds = [item["kind"] for item in detail.json()["timeline"]]
            time.sleep(0.3)
        assert "status:matching" in kinds, (kinds, matching.tail())
        assert detail.json()["status"] == "matching"
    finally:
        if intake.process is not None:
            intake.process.stop()
        matching.stop()
