"""The notifier worker on the real broker, with a real SMTP server and HTTP stand-ins."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.notifier.model import notification_id
from shared.settings import KafkaSettings
from tests.support.notifier_run import Expected, NotifierRun
from tests.support.notifier_standins import HttpStandIn, SmtpStandIn
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def run(kafka_broker: KafkaSettings, tmp_path: Path) -> Iterator[NotifierRun]:
    with SmtpStandIn() as smtp, HttpStandIn() as http:
        running = NotifierRun(tmp_path, kafka_broker, smtp, http)
        try:
            yield running
        finally:
            running.stop()


def test_one_placement_reaches_staff_outreach_and_the_survivor_once(run: NotifierRun) -> None:
    run.start()
    referral = run.referral()
    run.flush()
    expected = run.offer_and_place(referral)
    run.flush()
    assert wait_until(lambda: run.all_arrived([expected]), 60), run.log_tail()
    time.sleep(1)
    hooks = run.webhook_verdicts()
    assert {i: hooks[i] for i in expected.webhook} == {i: ["accepted"] for i in expected.webhook}
    assert sorted(m.message_id for m in run.smtp.mails) == sorted(expected.email)
    [sms] = run.http.requests("/sms")
    assert sms.headers["Authorization"] == "Bearer test-token"
    assert sms.json()["to"].startswith("+00 ")
    assert "Hola" in sms.json()["text"] and "Test" not in sms.json()["text"]
    provider_mail = next(m for m in run.smtp.mails if m.to == "staff@example.invalid")
    assert "verwijzing" in provider_mail.subject and "/provider/offers#offer-" in provider_mail.text
    [inbox] = run.inbox_messages(1)
    assert inbox.notification_id == expected.inbox[0]
    assert str(inbox.organization_id) == run.provider and "/provider/offers#offer-" in inbox.body


@pytest.fixture
def slow_run(kafka_broker: KafkaSettings, tmp_path: Path) -> Iterator[NotifierRun]:
    """Partners that take 40 ms to answer, so a kill often lands in the middle of a send."""
    with SmtpStandIn(delay_s=0.04) as smtp, HttpStandIn(delay_s=0.04) as http:
        running = NotifierRun(tmp_path, kafka_broker, smtp, http)
        try:
            yield running
        finally:
            running.stop()


def test_killed_again_and_again_every_partner_gets_each_message_once(
        slow_run: NotifierRun) -> None:
    run = slow_run
    run.start()
    expected: list[Expected] = []
    delivered_at_kill = []
    for _ in range(3):
        wave = [run.referral() for _ in range(15)]
        run.flush()
        expected += [run.offer_and_place(r) for r in wave]
        run.flush()
        before = len(run.smtp.mails)  # kill once this wave's mail is flowing, not before
        floor = before + 4
        assert wait_until(lambda: len(run.smtp.mails) >= floor, 60), (  # noqa: B023
            run.log_tail())
        delivered_at_kill.append((len(run.smtp.mails), 2 * len(expected)))
        assert run.worker is not None
        run.worker.stop(signal.SIGKILL)
        run.start()
    assert wait_until(lambda: run.all_arrived(expected), 150), run.log_tail()
    time.sleep(2)  # a late duplicate would show up now
    assert all(got < due for got, due in delivered_at_kill), (
        "a kill came after its wave was done", delivered_at_kill)
    states, hooks = run.states(), run.webhook_verdicts()
    for hook in (i for e in expected for i in e.webhook):
        # Accepted exactly once; a resend after a crash is refused by the receiver as a replay.
        assert hooks[hook].count("accepted") == 1, hooks[hook]
        assert set(hooks[hook]) <= {"accepted", "replayed"}
    mails = run.smtp.counts()
    # Exactly once: a mail a kill left in doubt is settled by asking the mail provider.
    assert mails == {i: 1 for e in expected for i in e.email}, {
        i: (c, states[i]) for i, c in mails.items() if c != 1}
    sms = run.sms_counts()
    assert all(count == 1 for count in sms.values()), "a survivor got a message twice"
    for message in (i for e in expected for i in e.sms):
        # Exactly once: a survivor SMS a kill left in doubt is settled by asking the gateway.
        assert sms.get(message) == 1, (message, states[message])
    print("kills at (mails delivered, due):", delivered_at_kill,
          "| webhook replays refused:", sum(v.count("replayed") for v in hooks.values()),
          "| survivor sms in doubt:", sum(s == "in_doubt" for s, _ in states.values()),
          "| hidden by a kill, settled by asking:", run.logged("outcome hidden by a crash"))


def test_revocation_during_a_burst_stops_every_survivor_message_not_yet_sent(
        run: NotifierRun) -> None:
    run.start()
    zone = ZoneInfo("Europe/Amsterdam")
    opens = datetime.now(zone) + timedelta(seconds=25)
    hours = (opens.time().replace(microsecond=0),
             (opens + timedelta(hours=1)).time().replace(microsecond=0))
    referrals = [run.referral(hours=hours) for _ in range(20)]
    run.flush()
    expected = {e.referral_id: e for e in (run.offer_and_place(r) for r in referrals)}
    run.flush()
    staff_mails = {i for e in expected.values() for i in e.email}
    assert wait_until(lambda: staff_mails <= set(run.smtp.counts()), 60), run.log_tail()
    assert run.sms_counts() == {}, "outside their hours: held, not sent"
    assert datetime.now(zone) < opens - timedelta(seconds=3), "too slow to test before opening"
    revoked = set(referrals[::2])
    for referral in revoked:
        run.revoke(referral)
    run.flush()
    time.sleep(max(0.0, (opens - datetime.now(zone)).total_seconds()) + 6)
    sms = run.sms_counts()
    for referral, due in expected.items():
        [message] = due.sms
        assert sms.get(message, 0) == (0 if referral in revoked else 1), referral
    states = run.states()
    assert {states[expected[r].sms[0]][0] for r in revoked} == {"cancelled"}
    assert datetime.now(UTC) > opens.astimezone(UTC)


def test_transient_failures_retry_through_the_retry_topics_permanent_ones_dead_letter(
        run: NotifierRun) -> None:
    run.http.fail_by_path = {"/hook/provider": [503, 503], "/hook/outreach": [400]}
    run.start()
    referral = run.referral()
    run.flush()
    expected = run.offer_and_place(referral)
    run.flush()
    provider_hook, outreach_hook = expected.webhook
    assert wait_until(lambda: "accepted" in run.webhook_verdicts().get(provider_hook, []),
                      60), run.log_tail()
    assert run.webhook_verdicts()[provider_hook] == ["answered-503", "answered-503", "accepted"]
    assert wait_until(lambda: run.states()[provider_hook] == ("sent", 3), 10), run.states()
    [alert] = run.alerts(1)
    assert (alert.notification_id, alert.reason) == (outreach_hook, "http_400")
    [letter] = run.dead_letters(1)
    why = {name: value.decode() for name, value in letter.headers if name.startswith("haven_dlq")}
    assert why["haven_dlq_reason"] == "delivery-failed" and why["haven_dlq_detail"] == "http-400"
    assert letter.key == referral.encode()  # sealed like every referral event
    assert run.states()[outreach_hook][0] == "failed"


def test_a_long_backoff_never_holds_back_a_retry_due_sooner(
        kafka_broker: KafkaSettings, tmp_path: Path) -> None:
    """Both retries are of one referral, so they share a partition on a single retry topic.

    The provider's webhook fails twice and waits 20 s on the second retry topic; then the
    outreach team's fails once and waits 0.5 s on the first. It must arrive first.
    """
    with SmtpStandIn() as smtp, HttpStandIn() as http:
        run = NotifierRun(tmp_path, kafka_broker, smtp, http, retry_delays="[0.5, 20.0]")
        try:
            http.fail_by_path = {"/hook/provider": [503, 503], "/hook/outreach": [503]}
            run.start()
            referral = run.referral()
            run.flush()
            provider_hook = notification_id(run.offer(referral), f"org:{run.provider}",
                                            "webhook")
            run.flush()
            assert wait_until(lambda: run.states().get(provider_hook, ("", 0))[0] == "retrying"
                              and run.states()[provider_hook][1] == 2, 60), run.log_tail()
            outreach_hook = notification_id(run.place(referral), f"org:{run.outreach}",
                                            "webhook")
            run.flush()
            assert wait_until(lambda: "accepted" in run.webhook_verdicts().get(
                outreach_hook, []), 60), run.log_tail()
            hooks = run.webhook_verdicts()
            assert hooks[outreach_hook] == ["answered-503", "accepted"]
            assert hooks[provider_hook] == ["answered-503", "answered-503"], (
                "the short retry waited behind the long one")
            # The receiver has it a moment before the log says so.
            assert wait_until(lambda: run.states()[provider_hook] == ("sent", 3), 60)
            assert run.webhook_verdicts()[provider_hook][-1] == "accepted"
        finally:
            run.stop()


def test_stale_capacity_reminds_the_provider_once_even_after_a_failed_attempt(
        run: NotifierRun) -> None:
    run.http.fail_by_path = {"/hook/provider": [503]}
    run.start()
    hook, mail = run.capacity_due()
    run.flush()
    assert wait_until(lambda: "accepted" in run.webhook_verdicts().get(hook, [])
                      and mail in run.smtp.counts(), 60), run.log_tail()
    time.sleep(1.5)
    assert run.webhook_verdicts()[hook] == ["answered-503", "accepted"]
    assert run.smtp.counts()[mail] == 1
    [reminder] = [m for m in run.smtp.mails if m.message_id == mail]
    assert reminder.to == "staff@example.invalid" and "/provider/capacity" in reminder.text
