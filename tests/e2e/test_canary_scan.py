"""Personal data never appears in the clear: not in Kafka, logs, the database or error bodies.

Referrals carrying unique canary values go through the running services; then
every byte of every topic (keys, headers, values), every log line, and the
intake's database files are scanned for them.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from shared.settings import KafkaSettings
from tests.support.canary import Canaries, every_file, every_record, found_in
from tests.support.intake import referral_body
from tests.support.intake_process import IntakeUnderTest
from tests.support.processes import ServiceProcess


@pytest.mark.slow
def test_canaries_appear_nowhere(kafka_broker: KafkaSettings, tmp_path: Path) -> None:
    canaries = Canaries.fresh()
    env = {"HAVEN_VAR_DIR": str(tmp_path),
           "HAVEN_KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers}
    workers = [ServiceProcess(f"services.{name}", log_file=tmp_path / "log" / f"{name}.log",
                              env=env) for name in ("matching", "notifier")]
    intake = IntakeUnderTest(tmp_path, kafka_broker.bootstrap_servers)
    errors: list[str] = []
    try:
        for worker in workers:
            worker.wait_for_log("Worker ready")
        intake.start()
        headers = {"Authorization": f"Bearer {intake.token()}"}
        contact = {"name": canaries.name, "phone": canaries.phone, "email": canaries.email}
        ids = []
        for _ in range(3):
            answer = httpx.post(f"{intake.url}/api/v1/referrals", headers=headers,
                                json=referral_body(contact=contact))
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["id"])
        bad = httpx.post(f"{intake.url}/api/v1/referrals", headers=headers,
                         json=referral_body(contact={**contact, "phone": canaries.name}))
        errors.append(bad.text)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            timeline = httpx.get(f"{intake.url}/api/v1/referrals/{ids[-1]}", headers=headers)
            if "status:matching" in timeline.text:
                break
            time.sleep(0.3)
        assert "status:matching" in timeline.text, "the referrals must have flowed through"
    finally:
        if intake.process is not None:
            intake.process.stop()
        for worker in workers:
            worker.stop()
    leaks = found_in(every_record(kafka_broker.bootstrap_servers), canaries)
    leaks += found_in(every_file(tmp_path), canaries)
    leaks += found_in([("error response", e.encode()) for e in errors], canaries)
    assert leaks == []
