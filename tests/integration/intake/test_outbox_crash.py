"""Kill intake (SIGKILL) while the broker is down and while it drains: no referral is lost.

Runs intake as a real process against a second broker that the test stops and
starts, so the session's broker is never disturbed.
"""

from __future__ import annotations

import random
import signal
import socket
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from deploy.local.broker import BrokerConfig, start, stop
from services.intake.db import create_db_engine, migrate
from services.intake.models import Role
from shared import topics
from shared.kafka import ensure_topics
from shared.settings import KafkaSettings
from tests.support.intake import PASSWORD, add_member, referral_body
from tests.support.kafka import header, read_until
from tests.support.processes import ServiceProcess


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class IntakeUnderTest:
    """Starts and kills the intake process; one SQLite file survives across restarts."""

    def __init__(self, tmp_path: Path, bootstrap: str) -> None:
        self.port = _free_port()
        self.env = {"HAVEN_VAR_DIR": str(tmp_path), "HAVEN_INTAKE_PORT": str(self.port),
                    "HAVEN_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                    "DATABASE_URL": f"sqlite:///{tmp_path / 'intake.sqlite3'}"}
        engine = create_db_engine(self.env["DATABASE_URL"])
        migrate(engine)
        with Session(engine) as session:
            self.username = add_member(session, "outreach", Role.OUTREACH_WORKER).username
            session.commit()
        engine.dispose()
        self.log = tmp_path / "intake.log"
        self.process: ServiceProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = ServiceProcess("services.intake", log_file=self.log, env=self.env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"intake did not start:\n{self.process.tail()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.stop(signal.SIGKILL)

    def token(self) -> str:
        answer = httpx.post(f"{self.url}/api/v1/auth/token",
                            data={"username": self.username, "password": PASSWORD})
        return str(answer.json()["access_token"])

    def submit(self, count: int) -> list[str]:
        headers = {"Authorization": f"Bearer {self.token()}"}
        accepted = []
        for _ in range(count):
            answer = httpx.post(f"{self.url}/api/v1/referrals", json=referral_body(),
                                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                                timeout=30)
            assert answer.status_code == 201, answer.text
            accepted.append(answer.json()["id"])
        return accepted


@pytest.mark.slow
def test_no_referral_is_lost_across_kills_and_a_broker_outage(tmp_path: Path) -> None:
    broker = BrokerConfig(port=_free_port(), controller_port=_free_port(),
                          var_dir=tmp_path / "broker")
    start(broker)
    intake: IntakeUnderTest | None = None
    try:
        ensure_topics(KafkaSettings(bootstrap_servers=broker.bootstrap))
        intake = IntakeUnderTest(tmp_path, broker.bootstrap)
        intake.start()
        accepted = intake.submit(5)
        stop(broker)  # the broker goes down; intake keeps accepting into its outbox
        accepted += intake.submit(40)
        intake.kill()  # committed, not yet published
        intake.start()
        accepted += intake.submit(5)
        start(broker)
        time.sleep(random.uniform(0.5, 2.0))
        intake.kill()  # somewhere in the middle of draining the backlog
        intake.start()
        published = read_until(
            broker.bootstrap, topics.REFERRAL_SUBMITTED.name, timeout_s=90,
            done=lambda rs: set(accepted) <= {header(r, "ce_subject") for r in rs})
    finally:
        if intake is not None and intake.process is not None:
            intake.process.stop()
        stop(broker)
    subjects = {header(r, "ce_subject") for r in published}
    assert set(accepted) <= subjects, f"lost: {len(set(accepted) - subjects)}"
    events_per_referral = Counter(
        header(r, "ce_subject") for r in {header(r, "ce_id"): r for r in published}.values())
    assert max(events_per_referral.values()) == 1, "a referral was announced as two events"
