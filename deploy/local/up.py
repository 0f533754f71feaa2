"""`make up`: the whole system on one machine, in the foreground, until Ctrl-C.

Starts the broker (unless one already answers), creates the topics, starts the
three services as separate processes with their logs under var/log/, waits until
each is really ready, prints where to look, and on Ctrl-C stops what it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local import demo_outbox
from deploy.local.broker import BrokerConfig, BrokerError, answers_metadata, start, stop
from services.intake.directory import seed
from services.intake.directory.cli import seed_network
from shared.identity import ensure_service_keys
from shared.kafka import ensure_topics
from shared.settings import IntakeSettings, KafkaSettings, RuntimeSettings

READY_TIMEOUT_S = 90.0


@dataclass
class Service:
    """A service process and the log line or URL that tells us it is ready."""

    name: str
    module: str
    ready_log: str | None = None
    ready_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def log_file(self, runtime: RuntimeSettings) -> Path:
        return runtime.var_dir / "log" / f"{self.name}.log"

    def is_ready(self, runtime: RuntimeSettings) -> bool:
        if self.ready_url is not None:
            try:
                with urllib.request.urlopen(self.ready_url, timeout=2) as answer:
                    return bool(answer.status == 200)
            except OSError:
                return False
        text = self.log_file(runtime).read_text(errors="replace")
        return self.ready_log is not None and self.ready_log in text


def _services(runtime: RuntimeSettings, intake: IntakeSettings) -> list[Service]:
    demo = runtime.environment != "production"
    outbox = [Service("outbox", "deploy.local.demo_outbox", ready_log="outbox ready")]
    return [
        *(outbox if demo else []),
        Service("matching", "services.matching", ready_log="Worker ready"),
        Service("notifier", "services.notifier", ready_log="Worker ready",
                env=demo_outbox.notifier_environment() if demo else {}),
        Service("intake", "services.intake",
                ready_url=f"http://{intake.host}:{intake.port}/readyz"),
    ]


def _launch(service: Service, runtime: RuntimeSettings) -> None:
    path = service.log_file(runtime)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as log:
        service.process = subprocess.Popen(
            [sys.executable, "-m", service.module], stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, env={**os.environ, **service.env},
        )


def _wait_ready(services: list[Service], runtime: RuntimeSettings) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    pending = list(services)
    while pending and time.monotonic() < deadline:
        for service in list(pending):
            assert service.process is not None
            if service.process.poll() is not None:
                raise RuntimeError(f"{service.name} exited; see {service.log_file(runtime)}")
            if service.is_ready(runtime):
                print(f"  {service.name:<9} ready   (log: {service.log_file(runtime)})")
                pending.remove(service)
        time.sleep(0.3)
    if pending:
        names = ", ".join(s.name for s in pending)
        raise RuntimeError(f"not ready after {READY_TIMEOUT_S:.0f}s: {names}; see var/log/")


def _terminate(services: list[Service]) -> None:
    for service in services:
        if service.process is not None and service.process.poll() is None:
            os.killpg(service.process.pid, signal.SIGTERM)
    for service in services:
        if service.process is None:
            continue
        try:
            service.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()


def _watch(services: list[Service]) -> str:
    """Block until Ctrl-C / SIGTERM, or until a service dies (and say which)."""
    stopping: list[str] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append("SIGTERM"))
    # Launched from a non-interactive shell, SIGINT arrives ignored; Ctrl-C must still work.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        while not stopping:
            for service in services:
                if service.process is not None and service.process.poll() is not None:
                    return f"{service.name} exited with code {service.process.returncode}"
            time.sleep(0.5)
    except KeyboardInterrupt:
        return "Ctrl-C"
    return stopping[0]


def _demo_network(runtime: RuntimeSettings, intake: IntakeSettings) -> str:
    """Outside production, the invented demo network with known sign-ins (README lists them)."""
    if runtime.environment == "production":
        return "create the first admin with `haven intake create-admin`"
    report = seed_network(runtime, intake)
    if not report.skipped:
        print(f"demo network: {report.organizations} organizations, {report.services} "
              f"services, {report.users} users")
    if subscribed := demo_outbox.subscribe_demo_organizations(runtime, intake):
        print(f"notifications: {subscribed} organizations get the in-app inbox and e-mail "
              f"(to the demo outbox, http://127.0.0.1:{demo_outbox.HTTP_PORT}/)")
    return (f"{seed.ADMIN[0]} / {seed.ADMIN[1]} (admin), outreach-amsterdam / "
            f"{seed.OUTREACH_PASSWORD}, staff-01 / {seed.STAFF_PASSWORD}")


def run() -> int:
    """Start everything, wait for Ctrl-C, stop everything; the exit code says how it went."""
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    runtime, intake, kafka = RuntimeSettings(), IntakeSettings(), KafkaSettings()
    broker = BrokerConfig.from_env()
    started_broker = False
    services = _services(runtime, intake)
    try:
        if not answers_metadata(broker, timeout_s=3):
            print(f"starting Kafka on {broker.bootstrap} ...")
            started_broker = start(broker)
        report = ensure_topics(kafka)
        ensure_service_keys(runtime)
        admin_note = _demo_network(runtime, intake)
        print(f"topics: {len(report.created)} created, {len(report.updated)} updated, "
              f"{len(report.unchanged)} unchanged")
        for service in services:
            _launch(service, runtime)
        _wait_ready(services, runtime)
        outbox = (f"  outbox:      http://127.0.0.1:{demo_outbox.HTTP_PORT}/ (what the notifier "
                  "sent; files in var/outbox/)\n" if runtime.environment != "production" else "")
        print(f"\nHaven is running.\n  web and API: http://{intake.host}:{intake.port}/docs\n"
              f"  broker:      {broker.bootstrap}\n  logs:        {runtime.var_dir / 'log'}\n"
              f"  sign in:     {admin_note}\n{outbox}"
              "Press Ctrl-C to stop.")
        why = _watch(services)
        print(f"\nstopping ({why}) ...")
        return 0 if why in ("Ctrl-C", "SIGTERM") else 1
    except (BrokerError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _terminate(services)
        if started_broker:
            stop(broker)
        print("stopped.")


if __name__ == "__main__":
    sys.exit(run())
