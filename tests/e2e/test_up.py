"""`make up` as a person uses it: everything comes up, answers, and Ctrl-C stops it all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import httpx
import pytest

from services.intake.directory import seed
from shared.settings import KafkaSettings
from tests.support.intake import referral_body
from tests.support.processes import REPO_ROOT, free_port


def _service_processes(marker: str) -> list[int]:
    """Every process `up` started in this test (found by an environment marker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        started = b"services." in cmdline or b"deploy.local.demo_outbox" in cmdline
        if f"HAVEN_UP_TEST={marker}".encode() in environ and started:
            found.append(int(entry.name))
    return found


def _sign_in(base: str, username: str, password: str) -> dict[str, str]:
    signed_in = httpx.post(f"{base}/api/v1/auth/token",
                           data={"username": username, "password": password})
    assert signed_in.status_code == 200, f"the demo sign-in of {username} must work"
    return {"Authorization": f"Bearer {signed_in.json()['access_token']}"}


@pytest.mark.slow
def test_up_starts_everything_and_ctrl_c_stops_it(
    kafka_broker: KafkaSettings, tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, "HAVEN_VAR_DIR": str(tmp_path), "HAVEN_INTAKE_PORT": str(port),
           "HAVEN_KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
           "HAVEN_UP_TEST": uuid.uuid4().hex, "HAVEN_DEMO_SMTP_PORT": str(free_port()),
           "HAVEN_DEMO_OUTBOX_PORT": str(free_port())}
    output = tmp_path / "up.out"
    with output.open("wb") as out:
        up = subprocess.Popen([sys.executable, "-m", "deploy.local.up"], cwd=REPO_ROOT,
                              stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 120
            while b"Haven is running" not in output.read_bytes():
                assert up.poll() is None, output.read_text()
                assert time.monotonic() < deadline, output.read_text()
                time.sleep(0.3)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as answer:
                assert json.load(answer) == {"status": "ready", "broker": "ok"}
            base = f"http://127.0.0.1:{port}"
            username, password = seed.ADMIN
            token = _sign_in(base, username, password)
            organizations = httpx.get(f"{base}/api/v1/admin/organizations", headers=token).json()
            kinds = [o["kind"] for o in organizations]
            assert kinds.count("provider") >= 64 and "outreach" in kinds and "coordinator" in kinds
            assert f"{username} / {password}" in output.read_text()
            assert "demo network: 71 organizations" in output.read_text()
            staff = _sign_in(base, "staff-01", seed.STAFF_PASSWORD)
            mine = httpx.get(f"{base}/api/v1/services", params={"mine": True}, headers=staff)
            assert mine.status_code == 200 and len(mine.json()) >= 1
            outreach = _sign_in(base, "outreach-amsterdam", seed.OUTREACH_PASSWORD)
            network = httpx.get(f"{base}/api/v1/services", headers=outreach).json()
            assert len(network) >= 64 and any(s["capacity"]["stale"] for s in network)
            running = _service_processes(env["HAVEN_UP_TEST"])
            assert len(running) == 4, "intake, matching, notifier and the demo outbox must run"
            # A referral goes all the way: matching answers, the notifier e-mails the outreach
            # team (and any provider offered) through the demo outbox, and its page lists it.
            region = next(t.region for t in seed.TOWNS if t.name == "Amsterdam")
            submitted = httpx.post(f"{base}/api/v1/referrals", headers=outreach, json=referral_body(
                location={"region": region, "max_distance_km": 50}))
            assert submitted.status_code == 201, submitted.text
            mail = tmp_path / "outbox" / "mail"
            deadline = time.monotonic() + 90
            while not (mail.is_dir() and any(mail.iterdir())):
                assert time.monotonic() < deadline, "no notification reached the demo outbox"
                time.sleep(0.5)
            listing = httpx.get(f"http://127.0.0.1:{env['HAVEN_DEMO_OUTBOX_PORT']}/")
            assert next(mail.iterdir()).name in listing.text
            assert "CANARY" not in output.read_text()
            up.send_signal(signal.SIGINT)
            assert up.wait(timeout=60) == 0, output.read_text()
        finally:
            if up.poll() is None:  # a failed assertion must not leave the system running
                up.send_signal(signal.SIGINT)
                try:
                    up.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    up.kill()
    assert "stopped." in output.read_text()
    leftovers = _service_processes(env["HAVEN_UP_TEST"])
    assert leftovers == [], "Ctrl-C must leave no service process behind"
