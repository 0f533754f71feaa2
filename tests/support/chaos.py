"""The kill loop (issue 18): `haven up` on a broker of its own, steady load, SIGKILLs.

`haven up` runs the demo network with its own broker (own ports and var dir, so
killing it hurts no one) and supervises; the loop SIGKILLs matching, notifier,
intake and the broker in turn while outreach submits referrals and staff answer
offers and change capacity through intake's API. Afterwards the figures come from
the system's own records: intake's database, the demo outbox, the dead-letter
topics and matching's ledger changelog.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from kafka import KafkaConsumer, TopicPartition

from deploy.local.broker import BrokerConfig
from deploy.local.broker import stop as stop_broker
from services.intake.directory import seed
from shared.dead_letters import reason_of
from tests.support.intake import referral_body
from tests.support.processes import REPO_ROOT, free_port, wait_until

SERVICES = ("matching", "notifier", "intake")
MODULES = {"matching": b"services.matching", "notifier": b"services.notifier",
           "intake": b"services.intake"}
FROM_MATCHING = {"matching", "offered", "accepted", "placed", "waitlisted", "returned",
                 "withdrawn", "erased"}
SETTLED = FROM_MATCHING - {"matching"}


@dataclass(frozen=True)
class ChaosPlan:
    """How long, how hard; `from_env` reads HAVEN_CHAOS_* (the long form sets them)."""

    minutes: float = 5.0
    kill_every_s: float = 12.0
    targets: tuple[str, ...] = ("matching", "notifier", "intake", "broker")
    matching_workers: int = 1
    submit_every_s: float = 1.0
    settle_s: float = 180.0

    @classmethod
    def from_env(cls) -> ChaosPlan:
        env = os.environ.get
        return cls(minutes=float(env("HAVEN_CHAOS_MINUTES", "5")),
                   kill_every_s=float(env("HAVEN_CHAOS_KILL_EVERY_S", "12")),
                   targets=tuple(env("HAVEN_CHAOS_TARGETS",
                                     "matching,notifier,intake,broker").split(",")),
                   matching_workers=int(env("HAVEN_CHAOS_MATCHING_WORKERS", "1")),
                   submit_every_s=float(env("HAVEN_CHAOS_SUBMIT_EVERY_S", "1.0")),
                   settle_s=float(env("HAVEN_CHAOS_SETTLE_S", "180")))


class Network:
    """`haven up` as a child process with everything of its own: broker, ports, var dir."""

    def __init__(self, root: Path, plan: ChaosPlan) -> None:
        self.root = root
        self.marker = uuid.uuid4().hex
        self.broker = BrokerConfig(port=free_port(), controller_port=free_port(),
                                   var_dir=root)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "HAVEN_VAR_DIR": str(root),
                    "HAVEN_KAFKA_PORT": str(self.broker.port),
                    "HAVEN_KAFKA_CONTROLLER_PORT": str(self.broker.controller_port),
                    "HAVEN_KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap,
                    "HAVEN_INTAKE_PORT": str(self.port), "HAVEN_CHAOS_RUN": self.marker,
                    "HAVEN_DEMO_SMTP_PORT": str(free_port()),
                    "HAVEN_DEMO_OUTBOX_PORT": str(free_port()),
                    "HAVEN_UP_WORKERS": f"matching={plan.matching_workers}"}
        self.env.pop("DATABASE_URL", None)
        self.output = root / "up.out"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.output.open("wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "deploy.local.up"],
                                            cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT,
                                            env=self.env, start_new_session=True)
        running = wait_until(lambda: b"Haven is running" in self.output.read_bytes()
                             or self.process is None or self.process.poll() is not None, 300)
        assert running and self.process.poll() is None, self.output.read_text()

    def pids(self, name: str) -> list[int]:
        """The live processes of one service (found by this run's environment marker)."""
        if name == "broker":
            try:
                return [int(self.broker.pid_file.read_text())]
            except (OSError, ValueError):
                return []
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if (f"HAVEN_CHAOS_RUN={self.marker}".encode() in environ
                    and b"\0-m\0" + MODULES[name] in cmdline):
                found.append(int(entry.name))
        return found

    def kill(self, name: str, rng: random.Random) -> bool:
        """SIGKILL one process of the service (its whole group for the broker)."""
        pids = self.pids(name)
        if not pids:
            return False
        pid = rng.choice(pids)
        try:
            if name == "broker":
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        return True

    def rss_mb(self) -> dict[str, float]:
        """Resident memory of every service process now, summed per service."""
        sizes: dict[str, float] = {}
        for name in (*SERVICES, "broker"):
            for pid in self.pids(name):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                kb = next((int(line.split()[1]) for line in status.splitlines()
                           if line.startswith("VmRSS:")), 0)
                sizes[name] = sizes.get(name, 0.0) + kb / 1024
        return sizes

    def stop(self) -> None:
        """Ctrl-C for `up`, then make sure its broker is gone whatever happened."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        stop_broker(self.broker)
        for name in SERVICES:
            for pid in self.pids(name):
                os.kill(pid, signal.SIGKILL)


@dataclass
class Load:
    """Outreach submits, staff answer offers and change capacity, all through intake."""

    base: str
    plan: ChaosPlan
    rng: random.Random = field(default_factory=lambda: random.Random(18))
    accepted: list[str] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    capacity_changes: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._threads = [threading.Thread(target=self._guard, args=(f,), daemon=True)
                         for f in (self._submit, self._answer)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _guard(self, loop: object) -> None:
        while not self._stop.is_set():
            try:
                loop()  # type: ignore[operator]
            except httpx.HTTPError:  # intake is being killed: try again shortly
                self._stop.wait(1.0)

    def _token(self, client: httpx.Client, username: str, password: str) -> dict[str, str]:
        while not self._stop.is_set():
            try:
                answer = client.post(f"{self.base}/api/v1/auth/token",
                                     data={"username": username, "password": password})
                if answer.status_code == 200:
                    return {"Authorization": f"Bearer {answer.json()['access_token']}"}
            except httpx.HTTPError:
                pass
            self._stop.wait(1.0)
        return {}

    def _submit(self) -> None:
        region = next(t.region for t in seed.TOWNS if t.name == "Amsterdam")
        with httpx.Client(timeout=15) as client:
            headers = self._token(client, "outreach-amsterdam", seed.OUTREACH_PASSWORD)
            while not self._stop.wait(self.plan.submit_every_s):
                body = referral_body(location={"region": region, "max_distance_km": 60},
                                     needs=[self.rng.choice(["emergency_shelter", "legal_aid",
                                                             "counselling"])],
                                     urgency=self.rng.choice(["tonight", "within_days"]))
                answer = client.post(f"{self.base}/api/v1/referrals", headers=headers,
                                     json=body)
                if answer.status_code == 201:
                    self.accepted.append(answer.json()["id"])
                elif answer.status_code == 401:
                    headers = self._token(client, "outreach-amsterdam",
                                          seed.OUTREACH_PASSWORD)
                else:
                    self.refused[str(answer.status_code)] += 1

    def _answer(self) -> None:
        """Staff of the providers near Amsterdam: answer open offers, move capacity."""
        near = [i for i in range(64) if seed.TOWNS[i % len(seed.TOWNS)].region == "noord-holland"]
        with httpx.Client(timeout=15) as client:
            staff = [self._token(client, f"staff-{i + 1:02d}", seed.STAFF_PASSWORD)
                     for i in near]
            services = {}
            for index, headers in enumerate(staff):
                mine = client.get(f"{self.base}/api/v1/services", params={"mine": True},
                                  headers=headers)
                services[index] = [s["id"] for s in mine.json()] if mine.is_success else []
            while not self._stop.wait(0.5):
                index = self.rng.randrange(len(staff))
                headers = staff[index]
                offers = client.get(f"{self.base}/api/v1/offers", params={"status": "open"},
                                    headers=headers)
                for offer in offers.json() if offers.is_success else []:
                    accept = self.rng.random() < 0.5
                    path = "accept" if accept else "decline"
                    body = None if accept else {"reason": "at_capacity"}
                    answer = client.post(f"{self.base}/api/v1/offers/{offer['id']}/{path}",
                                         headers=headers, json=body)
                    self.answers[f"{path} {answer.status_code}"] += 1
                if services[index] and self.rng.random() < 0.3:
                    service = self.rng.choice(services[index])
                    answer = client.put(f"{self.base}/api/v1/services/{service}/capacity",
                                        headers=headers,
                                        json={"available": self.rng.randint(0, 4)})
                    self.capacity_changes += answer.is_success


@dataclass
class Figures:
    accepted: int = 0
    processed: int = 0
    lost: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    delivered_twice: int = 0
    deliveries: int = 0
    ledger_versions: int = 0
    double_booked: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    erased_live: int = 0
    kills: Counter[str] = field(default_factory=Counter)
    rss_before: dict[str, float] = field(default_factory=dict)
    rss_after: dict[str, float] = field(default_factory=dict)
    minutes: float = 0.0
    lost_on_topic: int = 0  # of the lost, how many are on referral.submitted (not the broker's)
    resent_by_watch: int = 0  # submissions intake's watch sent again after matching was silent
    restarts: int = 0  # lines of `up` saying it restarts a dead service
    up_survived: bool = False

    def table(self) -> str:
        rows = [
            ("run", f"{self.minutes:.1f} min, kills {sum(self.kills.values())} "
                    f"({', '.join(f'{k} {v}' for k, v in sorted(self.kills.items()))})"),
            ("referrals accepted (201)", str(self.accepted)),
            ("processed by matching", str(self.processed)),
            ("lost (no status from matching)", str(len(self.lost))),
            ("  of the lost, on referral.submitted", str(self.lost_on_topic)),
            ("stuck (still 'matching')", str(len(self.stuck))),
            ("sent again by intake's watch (silent 60 s)", str(self.resent_by_watch)),
            ("final statuses", ", ".join(f"{k} {v}" for k, v in self.statuses.most_common())),
            ("notifications delivered twice", f"{self.delivered_twice} of {self.deliveries}"),
            ("places double-booked", f"{self.double_booked} of {self.ledger_versions} "
                                     "ledger versions"),
            ("dead letters by reason", ", ".join(f"{k} {v}" for k, v in
                                                 self.dead_letters.most_common()) or "none"),
            ("'erased' dead letters of live referrals", str(self.erased_live)),
            ("restarts announced by `haven up`", f"{self.restarts} (up still running: "
                                                 f"{'yes' if self.up_survived else 'NO'})"),
            ("RSS MB before -> after", ", ".join(
                f"{n} {self.rss_before.get(n, 0):.0f}->{self.rss_after.get(n, 0):.0f}"
                for n in (*SERVICES, "broker"))),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"| {name:<{width}} | {value} |" for name, value in rows)

    def failures(self) -> list[str]:
        checks = [(self.lost, "lost"), (self.stuck, "stuck")]
        found = [f"{len(items)} {what}" for items, what in checks if items]
        if self.delivered_twice:
            found.append(f"{self.delivered_twice} notifications delivered twice")
        if self.double_booked:
            found.append(f"{self.double_booked} double-booked ledger versions")
        if self.erased_live:
            found.append(f"{self.erased_live} 'erased' dead letters of live referrals")
        if not self.up_survived:
            found.append("`haven up` stopped during the run")
        if not self.accepted:
            found.append("no referral was accepted at all")
        return found


def intake_statuses(root: Path, ids: list[str]) -> dict[str, str]:
    """Each accepted referral's status in intake's own database."""
    import sqlite3

    with sqlite3.connect(root / "intake.sqlite3") as db:
        rows = db.execute("SELECT id, status FROM referral").fetchall()
    by_id = {str(uuid.UUID(str(row[0]))) if len(str(row[0])) == 32 else str(row[0]): row[1]
             for row in rows}
    return {referral: by_id.get(referral, "missing") for referral in ids}


def resent_by_watch(root: Path) -> int:
    """Submissions intake's watch published again (its timeline mark, services/intake/watch):
    each one is a submission matching had not answered within a minute."""
    import sqlite3

    with sqlite3.connect(root / "intake.sqlite3") as db:
        return int(db.execute("SELECT count(*) FROM timelineentry WHERE kind = ?",
                              ("watch:resent",)).fetchone()[0])


def settle(root: Path, ids: list[str], timeout_s: float) -> dict[str, str]:
    """Wait until every referral has settled (or the deadline); the statuses then."""
    statuses: dict[str, str] = {}

    def done() -> bool:
        nonlocal statuses
        statuses = intake_statuses(root, ids)
        return all(s in SETTLED for s in statuses.values())

    wait_until(done, timeout_s)
    return statuses


def deliveries(root: Path) -> tuple[int, int]:
    """(messages kept by the demo outbox, repeats among them)."""
    files = [p for kind in ("mail", "sms") if (root / "outbox" / kind).is_dir()
             for p in (root / "outbox" / kind).iterdir()]
    return len(files), sum(".repeat-" in p.name for p in files)


def _read_all(bootstrap: str, topics: list[str]) -> list[tuple[str, bytes | None, bytes | None,
                                                              list[tuple[str, bytes]]]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             group_id=None, consumer_timeout_ms=5000)
    try:
        partitions = [TopicPartition(t, p) for t in topics
                      for p in consumer.partitions_for_topic(t) or []]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records = []
        deadline = time.monotonic() + 120
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                break
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend((m.topic, m.key, m.value, list(m.headers or [])) for m in batch)
        return records
    finally:
        consumer.close()


def dead_letters(bootstrap: str, live: set[str]) -> tuple[Counter[str], int]:
    """Dead letters by reason, and how many are 'erased' letters of live referrals."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        topics = sorted(t for t in consumer.topics() if t.endswith(".dlq"))
    finally:
        consumer.close()
    reasons: Counter[str] = Counter()
    erased_live = 0
    for _topic, key, _, headers in _read_all(bootstrap, topics):
        why = reason_of(headers)
        reason = why.get("haven_dlq_reason", "?")
        reasons[f"{reason} ({why.get('haven_dlq_consumer', '?')})"] += 1
        referral = (key or b"").split(b"/", 1)[0].decode(errors="replace")
        if reason.startswith("erased") and referral in live:
            erased_live += 1
    return reasons, erased_live


def on_topic(bootstrap: str, referrals: set[str]) -> int:
    """How many of these referrals' submissions the broker still holds (a lost one that is
    not there was lost by the broker, one that is there by its consumer)."""
    if not referrals:
        return 0
    subjects = {value.decode() for _, _, _, headers in _read_all(bootstrap, ["referral.submitted"])
                for name, value in headers if name == "ce_subject"}
    return len(referrals & subjects)


def double_bookings(bootstrap: str) -> tuple[int, int]:
    """(ledger versions, versions where a new hold was granted without a free place)."""
    from services.matching.state import load_ledger

    versions = double = 0
    previous: dict[bytes, set[uuid.UUID]] = {}
    for _, key, value, _ in _read_all(bootstrap, ["haven-matching-ledgers-changelog"]):
        if key is None or value is None:
            continue
        versions += 1
        ledger = load_ledger(value)
        new_holds = set(ledger.holds) - previous.get(key, set())
        if new_holds and len(ledger.holds) + len(ledger.placements) > max(ledger.available, 0):
            double += 1
        previous[key] = set(ledger.holds)
    return versions, double


def run_kill_loop(root: Path, plan: ChaosPlan) -> Figures:
    """The whole loop: up, load, kills, settle, figures; `up` and its broker stop after."""
    network = Network(root, plan)
    figures = Figures()
    rng = random.Random(int(os.environ.get("HAVEN_CHAOS_SEED", "18")))
    try:
        network.start()
        figures.rss_before = network.rss_mb()
        load = Load(network.base, plan)
        load.start()
        began = time.monotonic()
        end = began + plan.minutes * 60
        turn = 0
        next_kill = began + plan.kill_every_s
        while time.monotonic() < end:
            time.sleep(max(0.0, min(next_kill, end) - time.monotonic()))
            if time.monotonic() >= end:
                break
            target = plan.targets[turn % len(plan.targets)]
            turn += 1
            if network.kill(target, rng):
                figures.kills[target] += 1
            next_kill = time.monotonic() + plan.kill_every_s * rng.uniform(0.7, 1.3)
        load.stop()
        figures.minutes = (time.monotonic() - began) / 60
        statuses = settle(root, load.accepted, plan.settle_s)
        figures.rss_after = network.rss_mb()
        figures.accepted = len(load.accepted)
        figures.statuses = Counter(statuses.values())
        figures.processed = sum(s in FROM_MATCHING for s in statuses.values())
        figures.lost = [r for r, s in statuses.items() if s not in FROM_MATCHING]
        figures.stuck = [r for r, s in statuses.items() if s == "matching"]
        figures.lost_on_topic = on_topic(network.broker.bootstrap, set(figures.lost))
        figures.resent_by_watch = resent_by_watch(root)
        figures.deliveries, figures.delivered_twice = deliveries(root)
        figures.ledger_versions, figures.double_booked = double_bookings(
            network.broker.bootstrap)
        figures.dead_letters, figures.erased_live = dead_letters(
            network.broker.bootstrap, set(load.accepted))
        assert network.process is not None
        figures.up_survived = network.process.poll() is None
        text = network.output.read_text(errors="replace")
        figures.restarts = text.count("; restarting in ") + text.count("starting it again")
        print(f"\nload: refused {dict(load.refused)}, answers {dict(load.answers)}, "
              f"capacity changes {load.capacity_changes}")
        return figures
    finally:
        network.stop()
