"""Several notifier workers sharing one PostgreSQL delivery log, one of them killed mid-send.

The single-worker crash test (test_worker.py) proves the log on SQLite. Production
runs more than one worker: the log's claims are conditional updates, so when a
killed worker's partitions move to a live one, the live one finds the dead one's
claims and settles them (asking the provider) instead of sending again.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local import postgres
from shared.settings import KafkaSettings
from tests.support.databases import scratch_database
from tests.support.notifier_run import Expected, NotifierRun
from tests.support.notifier_standins import HttpStandIn, SmtpStandIn
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def shared_log_run(kafka_broker: KafkaSettings, postgres_server: postgres.PostgresConfig,
                   tmp_path: Path) -> Iterator[NotifierRun]:
    """Partners that answer after 40 ms, and a delivery log in a fresh PostgreSQL database."""
    with (scratch_database(postgres_server, "notifier_test") as url,
          SmtpStandIn(delay_s=0.04) as smtp, HttpStandIn(delay_s=0.04) as http):
        running = NotifierRun(tmp_path, kafka_broker, smtp, http, database_url=url)
        try:
            yield running
        finally:
            running.stop()


def assigned_offer_partitions(log_file: Path) -> set[int]:
    """The `referral.offers` partitions a worker was given in its last assignment."""
    assignments = [line for line in log_file.read_text(errors="replace").splitlines()
                   if "Setting newly assigned partitions" in line]
    if not assignments:
        return set()
    return {int(p) for p in re.findall(r"topic='referral\.offers', partition=(\d+)",
                                       assignments[-1])}


def test_two_workers_share_the_log_and_a_killed_ones_work_is_done_once(
        shared_log_run: NotifierRun) -> None:
    run = shared_log_run
    first = run.start()
    second = run.start()
    assert wait_until(lambda: assigned_offer_partitions(first.log_file)
                      and assigned_offer_partitions(second.log_file), 60), (
        "both workers must own some partitions", run.log_tail())
    expected: list[Expected] = []
    victims = [first, second]
    for victim in victims:
        wave = [run.referral() for _ in range(15)]
        run.flush()
        expected += [run.offer_and_place(r) for r in wave]
        run.flush()
        floor = len(run.smtp.mails) + 4  # kill once this wave's mail is flowing
        assert wait_until(lambda: len(run.smtp.mails) >= floor, 60), (  # noqa: B023
            run.log_tail())
        victim.stop(signal.SIGKILL)  # the other worker takes its partitions over
        run.start()
    assert wait_until(lambda: run.all_arrived(expected), 150), run.log_tail()
    time.sleep(2)  # a late duplicate would show up now
    states, hooks = run.states(), run.webhook_verdicts()
    assert all(hooks[i].count("accepted") == 1 for e in expected for i in e.webhook)
    mails, sms = run.smtp.counts(), run.sms_counts()
    assert mails == {i: 1 for e in expected for i in e.email}, {
        i: (c, states[i]) for i, c in mails.items() if c != 1}
    assert sms == {i: 1 for e in expected for i in e.sms}, {
        i: (c, states[i]) for i, c in sms.items() if c != 1}
    assert {states[i][0] for e in expected for i in (*e.email, *e.sms, *e.webhook)} == {"sent"}
    print("hidden by a kill, settled by asking:", run.logged("outcome hidden by a crash"),
          "| webhook replays refused:", sum(v.count("replayed") for v in hooks.values()))
