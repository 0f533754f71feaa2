"""A real single-node Apache Kafka (KRaft) for development, tests, CI and the demo.

Kafka is assembled from Maven Central jars (deploy/local/pom.xml) because the
machines we run on have Java and Maven but no Docker and no Kafka download site.
One code path serves everyone, so a green test run means the demo's broker works.

    python -m deploy.local.broker start | stop | status | fetch
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.processes import alive, log_tail, port_open

REPO_ROOT = Path(__file__).resolve().parents[2]
POM = Path(__file__).resolve().with_name("pom.xml")
KAFKA_VERSION = "4.0.2"
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0


class BrokerError(RuntimeError):
    """A problem a person can act on; the message says what to do."""


@dataclass(frozen=True)
class BrokerConfig:
    """Where one broker lives; tests make a second one on other ports and directories."""

    host: str = "127.0.0.1"
    port: int = 9092
    controller_port: int = 9093
    var_dir: Path = field(default_factory=lambda: REPO_ROOT / "var")
    heap: str = "512m"

    @classmethod
    def from_env(cls) -> BrokerConfig:
        port = int(os.environ.get("HAVEN_KAFKA_PORT", "9092"))
        return cls(
            host=os.environ.get("HAVEN_KAFKA_HOST", "127.0.0.1"),
            port=port,
            controller_port=int(os.environ.get("HAVEN_KAFKA_CONTROLLER_PORT", str(port + 1))),
            var_dir=Path(os.environ.get("HAVEN_VAR_DIR", str(REPO_ROOT / "var"))),
        )

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def home(self) -> Path:
        return self.var_dir / "kafka"

    @property
    def libs(self) -> Path:
        """Jar cache shared by every broker on this checkout (it is version-specific)."""
        return REPO_ROOT / "var" / "cache" / f"kafka-{KAFKA_VERSION}" / "libs"

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "server.log"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"


def fetch(config: BrokerConfig) -> Path:
    """Download Kafka's class path once; later calls return the cache at once."""
    marker = config.libs / ".complete"
    if marker.exists():
        return config.libs
    _require_tool("java", "Install a Java 17 runtime (Debian: apt-get install openjdk-17-jre).")
    _require_tool("mvn", "Install Apache Maven (Debian: apt-get install maven).")
    config.libs.mkdir(parents=True, exist_ok=True)
    command = [
        "mvn", "-B", "-q", "-f", str(POM), "dependency:copy-dependencies",
        f"-Dkafka.version={KAFKA_VERSION}", f"-DoutputDirectory={config.libs}",
        "-DincludeScope=runtime",
    ]
    print(f"fetching Apache Kafka {KAFKA_VERSION} from Maven Central ...", file=sys.stderr)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not any(config.libs.glob("kafka_2.13-*.jar")):
        shutil.rmtree(config.libs, ignore_errors=True)
        tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise BrokerError(
            "Could not download Kafka from Maven Central (is the registry reachable?).\n"
            + "\n".join(tail)
        )
    marker.write_text(KAFKA_VERSION)
    return config.libs


def start(config: BrokerConfig) -> bool:
    """Start the broker and wait until it answers metadata; False when it already ran."""
    if _running_pid(config) is not None and answers_metadata(config, timeout_s=10):
        return False
    _refuse_taken_ports(config)
    _require_tool("java", "Install a Java 17 runtime (Debian: apt-get install openjdk-17-jre).")
    libs = fetch(config)
    properties = _write_properties(config)
    _format_storage(config, libs, properties)
    config.log_file.parent.mkdir(parents=True, exist_ok=True)
    with config.log_file.open("ab") as log:
        process = subprocess.Popen(
            _java(config, libs, "kafka.Kafka", str(properties)),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    config.pid_file.write_text(str(process.pid))
    _wait_until_ready(config, process)
    return True


def stop(config: BrokerConfig) -> bool:
    """Stop the broker and its whole process group; False when nothing ran."""
    pid = _running_pid(config)
    if pid is None:
        config.pid_file.unlink(missing_ok=True)
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive(pid):
        _signal_group(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.1)
    config.pid_file.unlink(missing_ok=True)
    return True


def status(config: BrokerConfig) -> str:
    """One line for people: running with pid and address, or stopped."""
    pid = _running_pid(config)
    if pid is None:
        return f"stopped (would listen on {config.bootstrap})"
    ready = "ready" if answers_metadata(config, timeout_s=5) else "not answering yet"
    return f"running, pid {pid}, {config.bootstrap}, {ready}"


def _require_tool(name: str, advice: str) -> None:
    if shutil.which(name) is None:
        raise BrokerError(f"'{name}' was not found on PATH. {advice}")


def _java(config: BrokerConfig, libs: Path, main_class: str, *args: str) -> list[str]:
    return [
        "java", f"-Xms{config.heap}", f"-Xmx{config.heap}", "-XX:+UseG1GC",
        "-Djava.awt.headless=true", "-cp", f"{libs}/*", main_class, *args,
    ]


def _write_properties(config: BrokerConfig) -> Path:
    config.home.mkdir(parents=True, exist_ok=True)
    listeners = (
        f"PLAINTEXT://{config.host}:{config.port},CONTROLLER://{config.host}:{config.controller_port}"
    )
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{config.host}:{config.controller_port}",
        "listeners": listeners,
        "advertised.listeners": f"PLAINTEXT://{config.host}:{config.port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(config.data_dir),
        "num.partitions": "1",
        "default.replication.factor": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "8",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # Topics come from the catalog (shared/topics.py), never by accident.
        "auto.create.topics.enable": "false",
        "log.cleaner.backoff.ms": "1000",
    }
    path = config.home / "server.properties"
    path.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    return path


def _cluster_id() -> str:
    """A random KRaft cluster id, never starting with "-" (the storage tool would read it as
    an option; Kafka's own Uuid.randomUuid skips those too)."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not candidate.startswith("-"):
            return candidate


def _format_storage(config: BrokerConfig, libs: Path, properties: Path) -> None:
    if (config.data_dir / "meta.properties").exists():
        return
    cluster_id = _cluster_id()
    command = _java(
        config, libs, "kafka.tools.StorageTool",
        "format", "-t", cluster_id, "-c", str(properties), "--ignore-formatted",
    )
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BrokerError(f"Formatting KRaft storage failed:\n{result.stdout}{result.stderr}")


def _wait_until_ready(config: BrokerConfig, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            config.pid_file.unlink(missing_ok=True)
            raise BrokerError(f"Kafka exited during start-up:\n{_log_tail(config)}")
        if answers_metadata(config, timeout_s=3):
            return
        time.sleep(0.3)
    stop(config)
    raise BrokerError(
        f"Kafka did not answer within {READY_TIMEOUT_S:.0f}s; stopped it.\n{_log_tail(config)}"
    )


def answers_metadata(config: BrokerConfig, *, timeout_s: float) -> bool:
    """True when the broker returns cluster metadata: a listening port is not enough."""
    if not port_open(config.host, config.port):
        return False
    from kafka.admin import KafkaAdminClient  # the venv's client; imported late on purpose

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=config.bootstrap,
            request_timeout_ms=int(timeout_s * 1000),
            client_id="haven-broker-probe",
        )
    except Exception:
        return False
    try:
        cluster = admin.describe_cluster()
        return bool(cluster.get("brokers"))
    except Exception:
        return False
    finally:
        admin.close()


def _refuse_taken_ports(config: BrokerConfig) -> None:
    for port in (config.port, config.controller_port):
        if port_open(config.host, port):
            raise BrokerError(
                f"Port {config.host}:{port} is already in use by another program, not Haven's "
                "broker. Stop that program, or choose free ports with HAVEN_KAFKA_PORT and "
                "HAVEN_KAFKA_CONTROLLER_PORT."
            )


def _running_pid(config: BrokerConfig) -> int | None:
    try:
        pid = int(config.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if alive(pid) else None


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _log_tail(config: BrokerConfig) -> str:
    return log_tail(config.log_file, missing="(no broker log written)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Haven's local Apache Kafka (KRaft) broker.")
    parser.add_argument("command", choices=["start", "stop", "status", "fetch"])
    command = parser.parse_args(argv).command
    config = BrokerConfig.from_env()
    try:
        if command == "start":
            started = start(config)
            print(f"kafka {'started' if started else 'already running'} on {config.bootstrap}")
        elif command == "stop":
            print("kafka stopped" if stop(config) else "kafka was not running")
        elif command == "status":
            print(f"kafka {status(config)}")
        else:
            print(f"kafka jars in {fetch(config)}")
    except BrokerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
