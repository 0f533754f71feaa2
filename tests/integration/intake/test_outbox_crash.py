"""Kill intake (SIGKILL) while the broker is down and while it drains: no referral is lost.

Runs intake as a real process against a second broker that the test stops and
starts, so the session's broker is never disturbed.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

import pytest

from deploy.local.broker import BrokerConfig, start, stop
from shared import topics
from shared.kafka import ensure_topics
from shared.settings import KafkaSettings
from tests.support.intake_process import IntakeUnderTest, free_port
from tests.support.kafka import header, read_until


@pytest.mark.slow
def test_no_referral_is_lost_across_kills_and_a_broker_outage(
    tmp_path: Path, database_url: str
) -> None:
    broker = BrokerConfig(port=free_port(), controller_port=free_port(),
                          var_dir=tmp_path / "broker")
    start(broker)
    intake: IntakeUnderTest | None = None
    try:
        ensure_topics(KafkaSettings(bootstrap_servers=broker.bootstrap))
        intake = IntakeUnderTest(tmp_path, broker.bootstrap, database_url)
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
