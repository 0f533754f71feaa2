"""`make up`: the whole system on one machine, in the foreground, until Ctrl-C.

Starts the broker (unless one already answers), creates the topics, starts the
three services as separate processes with their logs under var/log/, waits until
each is really ready, prints where to look, and on Ctrl-C stops what it started.
While it runs it supervises: a service (or the broker it started) that dies is
started again with backoff (`supervision.py`), and the reason is printed; only
Ctrl-C or SIGTERM stops everything.
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
from deploy.local.processes import alive
from deploy.local.supervision import RestartPolicy, after_exit, describe
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
    started_at: float = 0.0
    crashes: int = 0  # in a row, for the backoff
    restart_at: float | None = None  # when a dead one is due to start again

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
        *_workers(Service("matching", "services.matching", ready_log="Worker ready")),
        Service("notifier", "services.notifier", ready_log="Worker ready",
                env=demo_outbox.notifier_environment() if demo else {}),
        Service("intake", "services.intake",
                ready_url=f"{intake.url}/readyz"),
    ]


def _workers(service: Service) -> list[Service]:
    """`HAVEN_UP_WORKERS=matching=2` runs that many processes of a worker (one group)."""
    wanted = dict(part.split("=", 1) for part in
                  os.environ.get("HAVEN_UP_WORKERS", "").split(",") if "=" in part)
    count = int(wanted.get(service.name, "1"))
    if count <= 1:
        return [service]
    return [Service(f"{service.name}-{n}", service.module, ready_log=service.ready_log,
                    env=service.env) for n in range(1, count + 1)]


def _launch(service: Service, runtime: RuntimeSettings) -> None:
    path = service.log_file(runtime)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as log:
        service.process = subprocess.Popen(
            [sys.executable, "-m", service.module], stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, env={**os.environ, **service.env},
        )
    service.started_at = time.monotonic()
    service.restart_at = None


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


def _watch(services: list[Service], runtime: RuntimeSettings, *, policy: RestartPolicy,
           broker: BrokerConfig | None) -> str:
    """Block until Ctrl-C / SIGTERM, restarting whatever dies meanwhile (and saying why)."""
    stopping: list[str] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append("SIGTERM"))
    # Launched from a non-interactive shell, SIGINT arrives ignored; Ctrl-C must still work.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        while not stopping:
            for service in services:
                _supervise(service, runtime, policy)
            if broker is not None:
                _keep_broker(broker)
            time.sleep(0.5)
    except KeyboardInterrupt:
        return "Ctrl-C"
    return stopping[0]


def _supervise(service: Service, runtime: RuntimeSettings, policy: RestartPolicy) -> None:
    """Notice a dead service and schedule its restart; start it when it is due."""
    now = time.monotonic()
    if service.restart_at is not None:
        if now >= service.restart_at:
            _launch(service, runtime)
        return
    if service.process is None or service.process.poll() is None:
        return
    ran_for = now - service.started_at
    restart = after_exit(policy, returncode=service.process.returncode, ran_for_s=ran_for,
                         crashes_before=service.crashes)
    service.crashes, service.restart_at = restart.crashes, now + restart.delay_s
    print(f"  {describe(service.name, restart, ran_for_s=ran_for)} "
          f"(log: {service.log_file(runtime)})")


def _keep_broker(broker: BrokerConfig) -> None:
    """The broker `up` started comes back too: the services reconnect on their own."""
    try:
        pid = int(broker.pid_file.read_text())
    except (OSError, ValueError):
        pid = None
    if pid is not None and alive(pid):
        return
    print(f"  broker on {broker.bootstrap} is gone; starting it again ...")
    broker.pid_file.unlink(missing_ok=True)
    try:
        start(broker)
        print("  broker ready again")
    except BrokerError as error:
        print(f"  broker did not start ({error}); trying again")


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
        print(f"\nHaven is running.\n  web and API: {intake.url}/docs\n"
              f"  broker:      {broker.bootstrap}\n  logs:        {runtime.var_dir / 'log'}\n"
              f"  sign in:     {admin_note}\n{outbox}"
              "Press Ctrl-C to stop.")
        why = _watch(services, runtime, policy=RestartPolicy(),
                     broker=broker if started_broker else None)
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
