"""A notifier worker as a real process on the real broker, and the world around it.

The test plays intake (submissions, consent, contact terms; sealed with an intake
identity) and matching (offers and statuses; sealed with a matching identity) in
one var dir that the worker shares for public keys. Partners are the stand-ins:
a real SMTP server and an HTTP receiver that verifies webhooks and plays the SMS
gateway. The worker gets a consumer group of its own that starts at today's end
offsets, so other tests' history on the shared broker is never replayed.
"""

from __future__ import annotations

import json
import time as clock
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from services.notifier.app import CONSUMED
from services.notifier.model import notification_id, survivor_recipient
from shared import topics
from shared.events import (
    CapacityConfirmationDue,
    ConsentChanged,
    ConsentGrant,
    ContactTermsSet,
    Event,
    InboxMessagePosted,
    MatchingProfile,
    NotificationAlertRaised,
    OfferMade,
    ReferralStatusChanged,
    ReferralSubmitted,
)
from shared.events.vocabulary import ConsentScope, ReferralStatus, ServiceType, Urgency
from shared.identity import service_codec
from shared.kafka import EventPublisher, create_producer
from shared.protection import needed_grants
from shared.recipients import INTAKE, MATCHING
from shared.records import IncomingRecord
from shared.settings import KafkaSettings, RuntimeSettings
from tests.support.kafka import end_offsets, read_until, start_group_at_end
from tests.support.notifier_standins import HttpStandIn, SmtpStandIn
from tests.support.processes import ServiceProcess

SECRET = "whsec-test-only-not-a-real-secret"


@dataclass
class Expected:
    """The notifications one referral must cause, by channel and id."""

    referral_id: str
    webhook: list[str] = field(default_factory=list)
    email: list[str] = field(default_factory=list)
    sms: list[str] = field(default_factory=list)
    inbox: list[str] = field(default_factory=list)
    offered_at: float = 0.0  # when the offer event was handed to the producer


@dataclass
class NotifierRun:
    var_dir: Path
    kafka: KafkaSettings
    smtp: SmtpStandIn
    http: HttpStandIn
    retry_delays: str = "[0.5, 1.0, 2.0]"
    app_id: str = field(default_factory=lambda: f"test-notifier-{uuid.uuid4().hex[:8]}")
    outreach: str = field(default_factory=lambda: str(uuid.uuid4()))
    provider: str = field(default_factory=lambda: str(uuid.uuid4()))
    database_url: str = ""  # the delivery log; SQLite in the var dir unless given
    worker: ServiceProcess | None = None  # the one started last
    workers: list[ServiceProcess] = field(default_factory=list)
    starts: int = 0
    grants_started: bool = False

    def __post_init__(self) -> None:
        runtime = RuntimeSettings(var_dir=self.var_dir)
        self.intake, _, self.intake_grants = service_codec(
            INTAKE, source="/test/intake", runtime=runtime, kafka=self.kafka, reuse_grants=False)
        self.starts_at = {spec: end_offsets(self.kafka.bootstrap_servers, spec) for spec in (
            topics.NOTIFICATION_INBOX.name, topics.NOTIFICATION_ALERTS.name,
            topics.NOTIFICATION_FAILURES.name)}
        self.matching, _, _ = service_codec(MATCHING, source="/test/matching",
                                            runtime=runtime, kafka=self.kafka)
        self.publisher = EventPublisher(create_producer(self.kafka, client_id="test-notifier"),
                                        self.intake)
        self._subscribe()
        self._start_group_now()

    def _subscribe(self) -> None:
        self.http.secrets = {"/hook/outreach": SECRET.encode(), "/hook/provider": SECRET.encode()}
        folder = self.var_dir / "notifier"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "subscriptions.json").write_text(json.dumps({"organizations": [
            {"organization_id": self.outreach, "name": "Test outreach team",
             "email": "outreach@example.invalid", "webhook_url": self.http.url("/hook/outreach"),
             "webhook_secret": SECRET, "inbox": False},
            {"organization_id": self.provider, "name": "Test shelter", "language": "nl",
             "email": "staff@example.invalid", "webhook_url": self.http.url("/hook/provider"),
             "webhook_secret": SECRET, "inbox": True}]}))

    def _start_group_now(self) -> None:
        start_group_at_end(self.kafka.bootstrap_servers, self.app_id, CONSUMED)

    # --- the worker ----------------------------------------------------------------------

    def start(self) -> ServiceProcess:
        self.starts += 1
        self.worker = ServiceProcess("services.notifier",
                                     log_file=self.var_dir / f"notifier-{self.starts}.log",
                                     env={"HAVEN_VAR_DIR": str(self.var_dir),
                                          "HAVEN_KAFKA_BOOTSTRAP_SERVERS":
                                              self.kafka.bootstrap_servers,
                                          "HAVEN_NOTIFIER_APP_ID": self.app_id,
                                          "HAVEN_NOTIFIER_SMTP_PORT": str(self.smtp.port),
                                          "HAVEN_NOTIFIER_EMAIL_LOOKUP_URL":
                                              self.smtp.lookup_url,
                                          "HAVEN_NOTIFIER_SMS_GATEWAY_URL": self.http.url("/sms"),
                                          "HAVEN_NOTIFIER_SMS_GATEWAY_LOOKUP_URL":
                                              self.http.url("/sms"),
                                          "HAVEN_NOTIFIER_SMS_GATEWAY_TOKEN": "test-token",
                                          "HAVEN_NOTIFIER_RETRY_DELAYS_S": self.retry_delays,
                                          "HAVEN_NOTIFIER_DATABASE_URL": self.database_url})
        self.workers.append(self.worker)
        self.worker.wait_for_log("Worker ready", timeout_s=90)
        # Until then sealed events wait: a test timing safe hours must not start earlier.
        self.worker.wait_for_log("grants caught up", timeout_s=180)
        return self.worker

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.publisher.close()
        if self.grants_started:
            self.intake_grants.stop()

    def log_tail(self, lines: int = 40) -> str:
        """The worker's last log lines, without the noise of other runs' grants on the topic."""
        if self.worker is None:
            return ""
        text = self.worker.log_file.read_text(errors="replace").splitlines()
        return "\n".join([line for line in text if "grant refused" not in line][-lines:])

    def logged(self, text: str) -> int:
        """How many lines of every worker's log so far contain `text`."""
        return sum(line.count(text) for start in range(1, self.starts + 1) for line in (
            self.var_dir / f"notifier-{start}.log").read_text(errors="replace").splitlines())

    def states(self) -> dict[str, tuple[str, int]]:
        """The delivery log: notification id -> (state, attempts)."""
        url = self.database_url or f"sqlite:///{self.var_dir / 'notifier' / 'log.sqlite3'}"
        if url.startswith("sqlite") and not (self.var_dir / "notifier" / "log.sqlite3").exists():
            return {}
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                return {row[0]: (row[1], row[2]) for row in connection.execute(text(
                    "select notification_id, state, attempts from notifier_delivery"))}
        finally:
            engine.dispose()

    def all_arrived(self, expected: list[Expected]) -> bool:
        """Every expected webhook accepted, e-mail and SMS received (or an SMS in doubt)."""
        hooks, mails, sms = self.webhook_verdicts(), self.smtp.counts(), self.sms_counts()
        states = self.states()
        return all(
            all("accepted" in hooks.get(i, []) for i in e.webhook)
            and all(mails.get(i, 0) >= 1 for i in e.email)
            and all(sms.get(i, 0) >= 1 or states.get(i, ("", 0))[0] == "in_doubt"
                    for i in e.sms)
            for e in expected)

    # --- playing intake and matching -----------------------------------------------------

    def _send(self, event: Event, *, by_matching: bool = False) -> str:
        codec = self.matching if by_matching else self.intake
        records = codec.encode_all(event)
        for record in records:
            self.publisher.send(record)
        return dict(records[-1].headers)["ce_id"].decode()

    def referral(self, *, hours: tuple[time, time] = (time(0), time(0)),
                 zone: str = "Europe/Amsterdam") -> str:
        """A referral whose person agreed to SMS contact in the given hours."""
        referral = uuid.uuid4()
        now = datetime.now(UTC)
        self._send(ReferralSubmitted(
            referral_id=referral, outreach_organization_id=uuid.UUID(self.outreach),
            submitted_at=now, profile=MatchingProfile(
                needs=[ServiceType.EMERGENCY_SHELTER], urgency=Urgency.TONIGHT, age_min=30,
                age_max=30, region="utrecht"),
            consents=[ConsentGrant(scope=ConsentScope.CONTACT_SURVIVOR, granted=True)]))
        self._send(ContactTermsSet(
            referral_id=referral, channel="sms", address=f"+00 {referral.int % 10**9:09d}",
            hours_start=hours[0], hours_end=hours[1], timezone=zone, language="es",
            set_at=now))
        return str(referral)

    def offer(self, referral: str) -> str:
        """Matching offers the referral to the provider; the event's id."""
        return self._send(OfferMade(
            offer_id=uuid.uuid4(), referral_id=uuid.UUID(referral),
            organization_id=uuid.UUID(self.provider), service_id=uuid.uuid4(), rank=1,
            expires_at=datetime.now(UTC) + timedelta(hours=2)), by_matching=True)

    def place(self, referral: str) -> str:
        """Matching announces the status `placed`; the event's id."""
        return self._send(ReferralStatusChanged(
            referral_id=uuid.UUID(referral), status=ReferralStatus.PLACED,
            reason="provider_accepted", changed_at=datetime.now(UTC)), by_matching=True)

    def offer_and_place(self, referral: str) -> Expected:
        """An offer to the provider, then the status `placed`: what must go out, by id."""
        offered_at = clock.time()
        offer, placed = self.offer(referral), self.place(referral)
        provider, outreach = f"org:{self.provider}", f"org:{self.outreach}"
        return Expected(
            referral, webhook=[notification_id(offer, provider, "webhook"),
                               notification_id(placed, outreach, "webhook")],
            email=[notification_id(offer, provider, "email"),
                   notification_id(placed, outreach, "email")],
            sms=[notification_id(placed, survivor_recipient(referral), "sms")],
            inbox=[notification_id(offer, provider, "inbox")],
            offered_at=offered_at)

    def capacity_due(self) -> tuple[str, str]:
        """Intake finds the provider's capacity stale: ids of the webhook and the mail due."""
        now = datetime.now(UTC)
        cause = self._send(CapacityConfirmationDue(
            service_id=uuid.uuid4(), organization_id=uuid.UUID(self.provider),
            confirmed_at=now - timedelta(days=2), due_since=now - timedelta(days=1)))
        recipient = f"org:{self.provider}"
        return (notification_id(cause, recipient, "webhook"),
                notification_id(cause, recipient, "email"))

    def revoke(self, referral: str) -> None:
        self._send(ConsentChanged(
            referral_id=uuid.UUID(referral), changed_at=datetime.now(UTC),
            grant=ConsentGrant(scope=ConsentScope.CONTACT_SURVIVOR, granted=False)))

    def flush(self) -> None:
        self.publisher.flush()

    # --- what the partners received ------------------------------------------------------

    def webhook_verdicts(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for path in ("/hook/outreach", "/hook/provider"):
            for request in self.http.requests(path):
                found.setdefault(request.json()["notification_id"], []).append(request.verdict)
        return found

    def sms_counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for request in self.http.requests("/sms"):
            if request.verdict == "accepted":
                reference = request.json()["reference"]
                found[reference] = found.get(reference, 0) + 1
        return found

    def inbox_messages(self, count: int, timeout_s: float = 30) -> list[InboxMessagePosted]:
        """Inbox events since the run began, opened as intake opens them (sealed for it)."""
        if not self.grants_started:
            self.intake_grants.start()
            self.grants_started = True
        found: list[InboxMessagePosted] = []

        def enough(records: list[IncomingRecord]) -> bool:
            found.clear()
            for record in records:
                referral, needed = needed_grants(record.value, record.headers, INTAKE)
                if needed and not self.intake_grants.wait_for(referral, needed, timeout_s=5):
                    continue
                event = self.intake.decode(record).event
                if isinstance(event, InboxMessagePosted):
                    found.append(event)
            return len(found) >= count

        read_until(self.kafka.bootstrap_servers, topics.NOTIFICATION_INBOX.name, enough,
                   start=self.starts_at[topics.NOTIFICATION_INBOX.name], timeout_s=timeout_s)
        return list(found)

    def alerts(self, count: int, timeout_s: float = 30) -> list[NotificationAlertRaised]:
        """Admin alerts since the run began (signed, not sealed)."""
        found: list[NotificationAlertRaised] = []

        def enough(records: list[IncomingRecord]) -> bool:
            found[:] = [e for e in (self.intake.decode(r).event for r in records)
                        if isinstance(e, NotificationAlertRaised)]
            return len(found) >= count

        read_until(self.kafka.bootstrap_servers, topics.NOTIFICATION_ALERTS.name, enough,
                   start=self.starts_at[topics.NOTIFICATION_ALERTS.name], timeout_s=timeout_s)
        return list(found)

    def dead_letters(self, count: int, timeout_s: float = 30) -> list[IncomingRecord]:
        """Notifications that failed for good (notification.retries.dlq) since the run began."""
        name = topics.NOTIFICATION_FAILURES.name
        return read_until(self.kafka.bootstrap_servers, name, lambda got: len(got) >= count,
                          start=self.starts_at[name], timeout_s=timeout_s)
