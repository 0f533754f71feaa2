"""Submissions that arrive while matching or the broker restarts are all processed (issue 18).

A steady stream of referrals flows while the only matching worker is SIGKILLed and
restarted, and (on a broker of the test's own) while the broker itself is killed
and started again. Every accepted referral must end with a status from matching:
none may vanish between an acknowledged publish and a case.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deploy.local.broker import BrokerConfig, start, stop
from shared.events import MatchingProfile, ReferralSubmitted
from shared.events.vocabulary import ServiceType, Urgency
from shared.kafka import ensure_topics
from shared.settings import KafkaSettings
from shared.topics import REFERRAL_SUBMITTED
from tests.support.matching_run import MatchingRun
from tests.support.processes import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


class SteadySubmitter:
    """Publishes one referral every `every_s` until stopped, like intake's outbox relay:
    a record counts as accepted once the broker acknowledged it, and is re-sent (same
    event id) until it is."""

    def __init__(self, run: MatchingRun, *, every_s: float = 0.25) -> None:
        self.run = run
        self.every_s = every_s
        self.accepted: list[uuid.UUID] = []
        self.where: dict[uuid.UUID, tuple[int, int]] = {}  # partition, offset of submission
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> SteadySubmitter:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=180)

    def _loop(self) -> None:
        index = 0
        while not self._stop.is_set():
            index += 1
            referral = ReferralSubmitted(
                referral_id=uuid.uuid4(), outreach_organization_id=uuid.uuid4(),
                submitted_at=datetime.now(UTC), profile=MatchingProfile(
                    needs=[ServiceType.EMERGENCY_SHELTER], urgency=list(Urgency)[index % 3],
                    age_min=30, age_max=30, region="utrecht", accepts_waitlist=True))
            records = self.run.codec.encode_all(referral)
            while True:  # the outbox: re-send until acknowledged (consumers dedupe on id)
                try:
                    sent = [(r, self.run.publisher.send(r)) for r in records]
                    for record, future in sent:
                        metadata = future.get(timeout=30)
                        if record.topic == REFERRAL_SUBMITTED.name:
                            self.where[referral.referral_id] = (metadata.partition,
                                                                metadata.offset)
                    break
                except Exception:  # broker away; kafka-python raises several types
                    time.sleep(0.5)
            self.accepted.append(referral.referral_id)
            self._stop.wait(self.every_s)


def _assert_all_settled(run: MatchingRun, submitter: SteadySubmitter) -> None:
    statuses = run.statuses(submitter.accepted, timeout_s=300)
    unsettled = [r for r, s in statuses.items()
                 if not s or s[-1].status.value not in ("offered", "waitlisted")]
    assert not unsettled, (
        f"{len(unsettled)} of {len(submitter.accepted)} referrals never settled: "
        f"{Counter((s[-1].status.value, s[-1].reason) if s else ('nothing', '') for r, s in statuses.items() if r in unsettled)}; "  # noqa: E501
        f"at (partition, offset) {sorted(submitter.where[r] for r in unsettled)}")


def test_referrals_submitted_around_worker_kills_are_all_matched(run: MatchingRun) -> None:
    run.start_worker("a")
    run.publish_directory([200, 200])
    with SteadySubmitter(run) as submitter:
        for _ in range(3):
            time.sleep(2.0)  # submissions keep flowing up to the kill ...
            run.workers["a"].stop(signal.SIGKILL)
            time.sleep(2.0)  # ... while it is down ...
            run.start_worker("a")  # ... and while it recovers and catches up
        time.sleep(2.0)
    _assert_all_settled(run, submitter)


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[tuple[BrokerConfig, KafkaSettings]]:
    """A broker of this test's own, so killing it disturbs no one else's run."""
    config = BrokerConfig(port=free_port(), controller_port=free_port(),
                          var_dir=tmp_path / "broker")
    start(config)
    try:
        kafka = KafkaSettings(bootstrap_servers=config.bootstrap)
        ensure_topics(kafka)
        yield config, kafka
    finally:
        stop(config)


def test_referrals_submitted_around_broker_restarts_are_all_matched(
    own_broker: tuple[BrokerConfig, KafkaSettings], tmp_path: Path,
) -> None:
    config, kafka = own_broker
    run = MatchingRun(tmp_path / "run", kafka)
    try:
        run.start_worker("a")
        run.publish_directory([200, 200])
        with SteadySubmitter(run) as submitter:
            for _ in range(2):
                time.sleep(3.0)
                _kill_broker(config)
                time.sleep(2.0)
                start(config)
            time.sleep(3.0)
        _assert_all_settled(run, submitter)
    finally:
        run.stop()


def _kill_broker(config: BrokerConfig) -> None:
    """SIGKILL, not a clean stop: the broker gets no chance to hand anything over."""
    import os

    pid = int(config.pid_file.read_text())
    os.killpg(pid, signal.SIGKILL)
    while Path(f"/proc/{pid}").exists() and "Z" not in _state(pid):
        time.sleep(0.1)
    config.pid_file.unlink(missing_ok=True)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1]
    except (FileNotFoundError, IndexError):
        return "Z"


def test_referrals_submitted_while_workers_join_and_leave_are_all_matched(
        run: MatchingRun) -> None:
    """Each join and leave rebalances the group while `a` keeps some of its partitions."""
    run.start_worker("a")
    run.publish_directory([200, 200])
    with SteadySubmitter(run, every_s=0.25) as submitter:
        for stop_with in (signal.SIGTERM, signal.SIGKILL, signal.SIGTERM):
            run.start_worker("b")
            time.sleep(2.0)
            run.workers["b"].stop(stop_with)
        time.sleep(2.0)
    _assert_all_settled(run, submitter)
