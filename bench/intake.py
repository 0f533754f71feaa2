"""POST /api/v1/referrals beside a trivial endpoint (/healthz) of the same process, same run.

The ratio is the cost of validation, consent checks, sealing at rest, storage and
the outbox, relative to what FastAPI and uvicorn cost on their own here.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session

from services.intake.db import create_db_engine, migrate
from services.intake.models import Role
from tests.support.intake import PASSWORD, add_member, referral_body
from tests.support.processes import free_port

CONCURRENCY = 16


async def _load(client: httpx.AsyncClient, method: str, url: str, total: int,
                **kwargs: Any) -> dict[str, float]:
    latencies: list[float] = []
    queue = iter(range(total))

    async def worker() -> None:
        for _ in queue:
            started = time.perf_counter()
            answer = await client.request(method, url, **kwargs)
            latencies.append(time.perf_counter() - started)
            if answer.status_code >= 300:
                raise RuntimeError(f"{url}: {answer.status_code} {answer.text[:200]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"requests": float(total), "requests_per_s": total / elapsed,
            "p50_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000}


async def _measure(base: str, token: str, total: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        await _load(client, "GET", "/healthz", 200)  # warm-up
        trivial = await _load(client, "GET", "/healthz", total)
        submit = await _load(client, "POST", "/api/v1/referrals", total, headers=headers,
                             json=referral_body())
    return {"concurrency": CONCURRENCY, "trivial_endpoint": trivial, "submit_referral": submit,
            "ratio_submit_to_trivial": submit["requests_per_s"] / trivial["requests_per_s"]}


def run(bootstrap: str, total: int) -> dict[str, Any]:
    """Start intake as its own process on a fresh SQLite database and load it."""
    with tempfile.TemporaryDirectory() as folder:
        var = Path(folder)
        database = f"sqlite:///{var / 'intake.sqlite3'}"
        engine = create_db_engine(database)
        migrate(engine)
        with Session(engine) as session:
            username = add_member(session, "bench", Role.OUTREACH_WORKER).username
            session.commit()
        port = free_port()
        env = {**os.environ, "HAVEN_VAR_DIR": str(var), "HAVEN_INTAKE_PORT": str(port),
               "DATABASE_URL": database, "HAVEN_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
               "HAVEN_LOG_LEVEL": "WARNING"}
        process = subprocess.Popen([sys.executable, "-m", "services.intake"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait(base)
            token = httpx.post(f"{base}/api/v1/auth/token",
                               data={"username": username, "password": PASSWORD}).json()
            return asyncio.run(_measure(base, token["access_token"], total))
        finally:
            process.terminate()
            process.wait(timeout=60)


def _wait(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("intake did not start for the benchmark")
