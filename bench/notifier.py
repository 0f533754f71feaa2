"""Notifications per second, and offer-event-to-delivery latency, through one notifier worker.

The worker runs as a real process on the real broker with its delivery log on
(SQLite, a synchronous commit before and after every send). Partners are the
test stand-ins: a real SMTP server (aiosmtpd) and an HTTP receiver that verifies
webhook signatures. Each referral causes an offer (provider: webhook, e-mail,
inbox) and a placement (outreach: webhook, e-mail; survivor: SMS).

- throughput: a burst of referrals, notifications taken by partners per second;
- latency: offers paced at a few per second, time from handing the offer event to
  the producer until the SMTP server and the webhook receiver took the message.
The ratio to the sealed produce-and-consume rate of the same broker in the same
run (bench/crypto.py) survives a noisy machine; the seconds do not.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import crypto
from shared.settings import KafkaSettings
from tests.support.notifier_run import Expected, NotifierRun
from tests.support.notifier_standins import HttpStandIn, SmtpStandIn


def _arrived(run: NotifierRun, expected: list[Expected]) -> bool:
    hooks, mails, sms = run.webhook_verdicts(), run.smtp.counts(), run.sms_counts()
    return all(all(i in hooks for i in e.webhook) and all(i in mails for i in e.email)
               and all(i in sms for i in e.sms) for e in expected)


def _wait(run: NotifierRun, expected: list[Expected], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not _arrived(run, expected):
        if time.monotonic() > deadline:
            raise TimeoutError(f"notifications missing after {timeout_s} s:\n{run.log_tail()}")
        time.sleep(0.1)


def _burst(run: NotifierRun, referrals: int) -> dict[str, Any]:
    ids = [run.referral() for _ in range(referrals)]
    run.flush()
    started = time.time()
    expected = [run.offer_and_place(r) for r in ids]
    run.flush()
    _wait(run, expected, timeout_s=600)
    wanted = {i for e in expected for i in (*e.webhook, *e.email, *e.sms)}
    taken = ([m.at for m in run.smtp.mails if m.message_id in wanted]
             + [r.at for r in run.http.received if r.verdict == "accepted"
                and r.json().get("notification_id", r.json().get("reference")) in wanted])
    seconds = max(taken) - started
    return {"referrals": referrals, "notifications": len(wanted), "seconds": seconds,
            "notifications_per_s": len(wanted) / seconds}


def _latency(run: NotifierRun, offers: int, per_s: float) -> dict[str, Any]:
    ids = [run.referral() for _ in range(offers)]
    run.flush()
    expected = []
    for referral in ids:
        expected.append(run.offer_and_place(referral))
        run.flush()
        time.sleep(1 / per_s)
    _wait(run, expected, timeout_s=300)
    mail_at = {m.message_id: m.at for m in run.smtp.mails}
    hook_at = {r.json()["notification_id"]: r.at for r in run.http.received
               if r.verdict == "accepted" and r.path.startswith("/hook/")}
    smtp = [(mail_at[e.email[0]] - e.offered_at) * 1000 for e in expected]
    webhook = [(hook_at[e.webhook[0]] - e.offered_at) * 1000 for e in expected]
    return {"offers": offers, "offers_per_s": per_s,
            "smtp_ms": _percentiles(smtp), "webhook_ms": _percentiles(webhook)}


def _percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": cuts[49], "p99": cuts[98], "max": max(samples)}


def run(settings: KafkaSettings, referrals: int = 200, offers: int = 100) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder, SmtpStandIn() as smtp, HttpStandIn() as http:
        notifier = NotifierRun(Path(folder), settings, smtp, http)
        try:
            notifier.start()
            burst = _burst(notifier, referrals)
            latency = _latency(notifier, offers, per_s=5.0)
        finally:
            notifier.stop()
    sealed = crypto.pipeline(settings, events=2000)["sealed_events_per_s"]
    return {"throughput": burst, "latency": latency, "dedupe_log": "sqlite, synchronous=FULL",
            "sealed_pipeline_events_per_s": sealed,
            "ratio_notifications_to_sealed_events": burst["notifications_per_s"] / sealed}
