"""Intake as a real process on its own SQLite file, for crash and end-to-end tests."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

import httpx
from sqlmodel import Session

from services.intake.db import create_db_engine, migrate
from services.intake.models import Role
from tests.support.intake import PASSWORD, add_member, referral_body
from tests.support.processes import ServiceProcess, free_port


class IntakeUnderTest:
    """Starts and kills the intake process; one SQLite file survives across restarts."""

    def __init__(self, tmp_path: Path, bootstrap: str, database_url: str | None = None) -> None:
        self.port = free_port()
        self.env = {"HAVEN_VAR_DIR": str(tmp_path), "HAVEN_INTAKE_PORT": str(self.port),
                    "HAVEN_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                    "DATABASE_URL": database_url or f"sqlite:///{tmp_path / 'intake.sqlite3'}"}
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
