"""The notifier worker's wiring: topics in, handlers, channels out, the delivery log beside.

| agent | input | does |
|---|---|---|
| on_referral_submitted | referral.submitted | outreach team, need, contact consent |
| on_consent | consent.changes | contact consent given, revoked (cancels queued), erasure |
| on_contact_terms | consent.contact_terms | keeps the sealed terms record (address, hours) |
| on_offers | referral.offers | staff of the offered organization; reminders before expiry |
| on_status | referral.status | outreach workers; the survivor when a place is ready |
| on_retries_N | notification.retries.N | retry N after a transient failure (one backoff each) |
| on_capacity_reminders | capacity.reminders | staff asked to confirm stale open places |
| timer (1 s) | the log's held messages | survivor messages whose safe hours have come |
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import aiohttp
import faust
from pydantic import SecretStr

from services.notifier import delivery_log
from services.notifier.channels import (
    ChannelPort,
    DeliveryLookup,
    InboxChannel,
    Outgoing,
    SmsGatewayChannel,
    SmtpChannel,
    SmtpConfig,
    WebhookChannel,
    inbox_message,
)
from services.notifier.delivery import Deliverer
from services.notifier.handlers import Handlers
from services.notifier.rendering import Renderer
from services.notifier.subscriptions import Subscriptions
from shared import topics
from shared.dead_letters import dead_letter
from shared.events import (
    CapacityConfirmationDue,
    ConsentChanged,
    ContactTermsSet,
    ErasureApplied,
    Event,
    NotificationRetryScheduled,
    OfferClosed,
    OfferMade,
    ReferralErased,
    ReferralStalled,
    ReferralStatusChanged,
    ReferralSubmitted,
)
from shared.grant_follower import GrantFollower
from shared.identity import service_codec
from shared.protection import needed_grants
from shared.recipients import NOTIFIER
from shared.records import Envelope, IncomingRecord, RecordCodec, RejectedRecord
from shared.settings import KafkaSettings, NotifierSettings, RuntimeSettings, WorkerSettings
from shared.streams import create_faust_app, faust_topic, publish, verified

SERVICE = "notifier"
log = logging.getLogger("haven.notifier")

# What the worker reads, and its agents' names (the table above).
INPUTS: tuple[tuple[topics.TopicSpec, str], ...] = (
    (topics.REFERRAL_SUBMITTED, "on_referral_submitted"),
    (topics.CONSENT_CHANGES, "on_consent"), (topics.CONTACT_TERMS, "on_contact_terms"),
    (topics.REFERRAL_OFFERS, "on_offers"), (topics.REFERRAL_STATUS, "on_status"),
    *((tier, f"on_retries_{number}")
      for number, tier in enumerate(topics.NOTIFICATION_RETRY_TIERS, start=1)),
    (topics.CAPACITY_REMINDERS, "on_capacity_reminders"))
CONSUMED: tuple[topics.TopicSpec, ...] = tuple(spec for spec, _ in INPUTS)


def create_app(
    *, kafka: KafkaSettings, runtime: RuntimeSettings, worker: WorkerSettings,
    notifier: NotifierSettings | None = None,
) -> faust.App:
    """Build the app; the broker, the channels and the log's connections open when it runs."""
    settings = notifier or NotifierSettings()
    app = create_faust_app(SERVICE, kafka=kafka, runtime=runtime, web_port=worker.web_port,
                           web_bind=str(worker.web_bind),
                           app_id=settings.app_id)
    codec, _, grants = service_codec(NOTIFIER, source=f"/haven/{SERVICE}", runtime=runtime,
                                     kafka=kafka)
    (runtime.var_dir / "notifier").mkdir(parents=True, exist_ok=True, mode=0o700)
    subscriptions = Subscriptions.load(settings.effective_subscriptions_file(runtime))
    emit, letter = _publishers(app, codec)
    session = _LazySession(settings.send_timeout_s)

    @app.on_before_shutdown.connect  # type: ignore[arg-type]  # mode types a sync receiver
    async def close_session(sender: Any, *_: Any, signal: Any, **__: Any) -> None:
        await session.close()

    handlers_box: list[Handlers] = []
    deliverer = Deliverer(
        engine=delivery_log.open_log(settings.effective_database_url(runtime)),
        channels=_channels(settings, subscriptions, emit, session), renderer=Renderer(),
        directory=subscriptions.endpoints, publish=emit,
        consent_of=lambda referral: handlers_box[0].consent_of(referral),
        dead_letter=letter, retry_delays=settings.retry_delays_s,
        settle_after=timedelta(seconds=settings.send_timeout_s))
    handlers = Handlers(deliverer=deliverer, open_terms=_terms_opener(codec, grants),
                        link_base=settings.public_base_url)
    handlers_box.append(handlers)
    _wire_agents(app, codec, grants, handlers)
    return app


Emit = Callable[[list[Event]], Awaitable[None]]


def _publishers(app: faust.App, codec: RecordCodec) -> tuple[
        Emit, Callable[[NotificationRetryScheduled, str], Awaitable[None]]]:
    """Publishing events (acknowledged), and dead-lettering a notification that failed."""

    async def emit(events: list[Event]) -> None:
        records = [r for event in events for r in codec.encode_all(event)]
        await publish(app, *records, confirm=True)
        codec.published(records)

    async def letter(event: NotificationRetryScheduled, reason: str) -> None:
        *grant_records, record = codec.encode_all(event)
        await publish(app, *grant_records, confirm=True)
        codec.published(grant_records)
        # One dead-letter topic for every tier: topics.NOTIFICATION_FAILURES.
        copy = dead_letter(IncomingRecord(topic=topics.RETRIES_FAMILY, partition=-1, offset=-1,
                                          key=record.key, value=record.value,
                                          headers=record.headers),
                           RejectedRecord("delivery-failed", reason), consumer=SERVICE)
        await publish(app, copy, confirm=True)

    return emit, letter


def _channels(settings: NotifierSettings, subscriptions: Subscriptions, emit: Emit,
              session: _LazySession) -> dict[str, ChannelPort]:
    """The four adapters, configured; HTTP ones share one session made inside the loop."""

    async def post_inbox(message: Outgoing) -> None:
        await emit([inbox_message(message, delivery_log.now())])

    password, token = settings.smtp_password, settings.sms_gateway_token
    return {
        "webhook": WebhookChannel(secrets=subscriptions.secret_for, session=session.get),
        "email": SmtpChannel(SmtpConfig(
            host=settings.smtp_host, port=settings.smtp_port, sender=settings.smtp_sender,
            username=settings.smtp_username,
            password=password.get_secret_value() if password else None,
            starttls=settings.smtp_starttls, timeout_s=settings.send_timeout_s),
            lookup=DeliveryLookup(url=settings.email_lookup_url, session=session.get,
                                  headers=lambda: _bearer(settings.email_lookup_token))),
        "sms": SmsGatewayChannel(
            url=settings.sms_gateway_url, username=settings.sms_gateway_username,
            token=token.get_secret_value() if token else None, session=session.get,
            lookup_url=settings.sms_gateway_lookup_url),
        "inbox": InboxChannel(post_inbox),
    }


def _bearer(token: SecretStr | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}


def _wire_agents(app: faust.App, codec: RecordCodec, grants: GrantFollower,
                 handlers: Handlers) -> None:
    """One five-line agent per input topic, all handing events to `_dispatch`."""

    def agent() -> Callable[[faust.StreamT[bytes]], Awaitable[None]]:
        async def run(stream: faust.StreamT[bytes]) -> None:
            await grants.caught_up()  # else early events would wait for grants not read yet
            async for envelope in verified(stream, app=app, codec=codec, consumer=SERVICE,
                                           grants=grants):
                await _dispatch(handlers, envelope)

        return run

    for spec, name in INPUTS:
        app.agent(faust_topic(app, spec), name=name)(agent())

    @app.task  # type: ignore[untyped-decorator]  # faust ships this one untyped
    async def follow_grants() -> None:
        grants.start()

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def release_held() -> None:
        await handlers.release_held()


async def _dispatch(handlers: Handlers, envelope: Envelope) -> None:
    """The handler for each event type; types the notifier does not need are skipped."""
    event, cause = envelope.event, envelope.attributes.id
    if isinstance(event, ReferralSubmitted):
        await handlers.referral_submitted(event)
    elif isinstance(event, ConsentChanged):
        await handlers.consent_changed(event)
    elif isinstance(event, ReferralErased):
        await handlers.erased(event)
    elif isinstance(event, ContactTermsSet):
        value, headers = _raw_record()
        await handlers.terms_set(event, value, headers)
    elif isinstance(event, OfferMade):
        await handlers.offer_made(event, cause)
    elif isinstance(event, OfferClosed):
        await handlers.offer_closed(event)
    elif isinstance(event, ErasureApplied):
        await handlers.erasure_applied(event)
    elif isinstance(event, ReferralStatusChanged | ReferralStalled):
        await handlers.status_changed(event, cause)
    elif isinstance(event, NotificationRetryScheduled):
        await handlers.retry_due(event)
    elif isinstance(event, CapacityConfirmationDue):
        await handlers.capacity_due(event, cause)


def _raw_record() -> tuple[bytes, list[tuple[str, bytes]]]:
    """The bytes and headers of the record being handled, to keep a sealed event as it came."""
    current = faust.current_event()
    if current is None or current.message.value is None:
        raise RuntimeError("no current record")  # pragma: no cover - agents always have one
    raw: Any = current.message.headers or []
    pairs: list[tuple[str, bytes]] = list(raw.items() if isinstance(raw, dict) else raw)
    return current.message.value, [(str(name), bytes(value)) for name, value in pairs]


def _terms_opener(codec: RecordCodec, grants: GrantFollower
                  ) -> Callable[[bytes, Sequence[tuple[str, bytes]]],
                                Awaitable[ContactTermsSet | None]]:
    """Open a stored terms record: verify the signature again, then the sealed view."""

    async def open_terms(value: bytes, headers: Sequence[tuple[str, bytes]]
                         ) -> ContactTermsSet | None:
        referral, needed = needed_grants(value, headers, grants.owner)
        if needed:
            await grants.await_for(referral, needed)
        try:
            event = codec.decode(IncomingRecord(
                topic=topics.CONTACT_TERMS.name, partition=-1, offset=-1,
                key=referral.encode(), value=value, headers=headers)).event
        except RejectedRecord as rejection:
            log.warning("contact terms unreadable", extra={"reason": rejection.reason})
            return None
        return event if isinstance(event, ContactTermsSet) else None

    return open_terms


class _LazySession:
    """One aiohttp session per worker, made inside the running event loop on first use."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
