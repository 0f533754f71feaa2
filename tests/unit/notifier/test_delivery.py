"""Exactly-once effect with the real delivery log (SQLite) and channel fakes behind the port."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from services.notifier import delivery_log as log
from services.notifier.channels import Outgoing, Permanent, Transient
from services.notifier.delivery import Deliverer
from services.notifier.handlers import Handlers
from services.notifier.model import Channel, Endpoints, notification_id
from services.notifier.rendering import Renderer
from shared.events import (
    CapacityConfirmationDue,
    ConsentChanged,
    ConsentGrant,
    ContactTermsSet,
    ErasureApplied,
    Event,
    MatchingProfile,
    NotificationAlertRaised,
    NotificationDelivered,
    NotificationRetryScheduled,
    OfferClosed,
    OfferMade,
    ReferralErased,
    ReferralStatusChanged,
    ReferralSubmitted,
    WithdrawnOffer,
)
from shared.events.vocabulary import ConsentScope, ReferralStatus, ServiceType, Urgency


def sync(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test body in a fresh event loop (the suite has no asyncio plugin)."""

    @functools.wraps(test)
    def run(*args: object, **kwargs: object) -> None:
        asyncio.run(test(*args, **kwargs))  # type: ignore[arg-type]

    return run


OUTREACH = "11111111-0000-0000-0000-000000000001"
THREE_AM = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 03:00 in Amsterdam


@dataclass
class FakeChannel:
    """Stands in for a provider behind the real port; fails as told, records what it took."""

    name: Channel
    failures: list[Exception] = field(default_factory=list)
    sent: list[Outgoing] = field(default_factory=list)

    async def send(self, message: Outgoing) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)


@dataclass
class GatewayWithLookup(FakeChannel):
    """A provider that can say whether it has a message (by its reference or Message-ID)."""

    has: bool | None = None
    asked_at: list[datetime] = field(default_factory=list)

    async def received(self, notification_id: str) -> bool | None:
        self.asked_at.append(log.now())
        return self.has


@dataclass
class World:
    handlers: Handlers
    channels: dict[str, FakeChannel]
    events: list[Event]
    letters: list[tuple[NotificationRetryScheduled, str]]
    clock: list[datetime]
    terms: dict[str, ContactTermsSet]

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def world(tmp_path: Path) -> World:
    engine = log.open_log(f"sqlite:///{tmp_path / 'log.sqlite3'}")
    channels = {name: FakeChannel(name) for name in ("webhook", "email", "sms", "inbox")}
    events: list[Event] = []
    letters: list[tuple[NotificationRetryScheduled, str]] = []
    clock = [datetime(2026, 11, 25, 12, 0, tzinfo=UTC)]
    terms: dict[str, ContactTermsSet] = {}

    async def publish(batch: list[Event]) -> None:
        events.extend(batch)

    async def letter(event: NotificationRetryScheduled, reason: str) -> None:
        letters.append((event, reason))

    async def open_terms(value: bytes, headers: Sequence[tuple[str, bytes]]
                         ) -> ContactTermsSet | None:
        return terms.get(value.decode())

    directory = {OUTREACH: Endpoints(OUTREACH, "Outreach team", email="team@example.invalid")}
    box: list[Handlers] = []
    deliverer = Deliverer(engine=engine, channels=channels, renderer=Renderer(),
                          directory=directory, publish=publish,
                          consent_of=lambda r: box[0].consent_of(r), dead_letter=letter,
                          retry_delays=[2.0, 10.0], clock=lambda: clock[0],
                          settle_after=timedelta(0))
    handlers = Handlers(deliverer=deliverer, open_terms=open_terms, link_base="https://h.example")
    box.append(handlers)
    return World(handlers, channels, events, letters, clock, terms)


async def submit(world: World, *, contact: bool = True,
                 expires_at: datetime | None = None) -> str:
    referral = uuid.uuid4()
    await world.handlers.referral_submitted(ReferralSubmitted(
        referral_id=referral, outreach_organization_id=uuid.UUID(OUTREACH),
        submitted_at=world.clock[0] - timedelta(minutes=5), profile=MatchingProfile(
            needs=[ServiceType.EMERGENCY_SHELTER], urgency=Urgency.TONIGHT, age_min=30,
            age_max=30, region="utrecht"),
        consents=[ConsentGrant(scope=ConsentScope.CONTACT_SURVIVOR, granted=contact,
                               expires_at=expires_at)]))
    if contact:
        event = ContactTermsSet(referral_id=referral, channel="sms", address="+00 000000001",
                                hours_start=time(9), hours_end=time(20),
                                timezone="Europe/Amsterdam", language="en",
                                set_at=world.clock[0] - timedelta(minutes=5))
        world.terms[str(referral)] = event
        await world.handlers.terms_set(event, str(referral).encode(), [])
    return str(referral)


async def placed(world: World, referral: str, cause: str = "status-1") -> None:
    await world.handlers.status_changed(ReferralStatusChanged(
        referral_id=uuid.UUID(referral), status=ReferralStatus.PLACED,
        reason="provider_accepted", changed_at=world.clock[0]), cause)


@sync
async def test_each_message_goes_once_however_often_its_cause_comes(world: World) -> None:
    referral = await submit(world)
    for _ in range(3):
        await placed(world, referral)
    assert len(world.channels["email"].sent) == 1 and len(world.channels["inbox"].sent) == 1
    [sms] = world.channels["sms"].sent
    assert sms.address == "+00 000000001" and "update" in sms.text
    delivered = [e for e in world.of(NotificationDelivered)
                 if isinstance(e, NotificationDelivered) and e.outcome == "delivered"]
    assert len(delivered) == 3


@sync
async def test_a_message_due_at_three_am_waits_for_the_morning_then_goes_once(
        world: World) -> None:
    world.clock[0] = THREE_AM
    referral = await submit(world)
    await placed(world, referral)
    assert world.channels["sms"].sent == [] and len(world.channels["email"].sent) == 1
    world.clock[0] = THREE_AM + timedelta(hours=5, minutes=59)
    assert await world.handlers.release_held() == 0
    world.clock[0] = THREE_AM + timedelta(hours=6)
    assert await world.handlers.release_held() == 1
    await world.handlers.release_held()
    assert len(world.channels["sms"].sent) == 1


@sync
async def test_revocation_cancels_what_is_held(world: World) -> None:
    world.clock[0] = THREE_AM
    referral = await submit(world)
    await placed(world, referral)
    await world.handlers.consent_changed(ConsentChanged(
        referral_id=uuid.UUID(referral), changed_at=THREE_AM + timedelta(minutes=1),
        grant=ConsentGrant(scope=ConsentScope.CONTACT_SURVIVOR, granted=False)))
    world.clock[0] = THREE_AM + timedelta(hours=7)
    await world.handlers.release_held()
    await placed(world, referral, cause="status-2")
    assert world.channels["sms"].sent == []
    assert any(isinstance(e, NotificationDelivered) and e.outcome == "cancelled"
               for e in world.events)


@sync
async def test_nothing_to_the_survivor_without_contact_consent(world: World) -> None:
    referral = await submit(world, contact=False)
    await placed(world, referral)
    assert world.channels["sms"].sent == [] and len(world.channels["email"].sent) == 1


@sync
async def test_a_crash_after_the_claim_resends_staff_mail_but_never_a_survivor_sms(
        world: World) -> None:
    referral = await submit(world)
    engine = world.handlers.engine
    # What a worker killed in the middle of sending leaves behind: claims without outcome.
    for recipient, channel, audience in ((f"org:{OUTREACH}", "email", "outreach"),
                                         (f"survivor:{referral}", "sms", "survivor")):
        log.claim(engine, notification_id=notification_id("status-1", recipient, channel),
                  referral_id=referral, audience=audience, channel=channel)
    await placed(world, referral)
    assert len(world.channels["email"].sent) == 1  # same Message-ID: receivers drop a repeat
    assert world.channels["sms"].sent == []
    [alert] = world.of(NotificationAlertRaised)
    assert isinstance(alert, NotificationAlertRaised) and alert.reason == "in_doubt"
    assert [reason for _, reason in world.letters] == ["in_doubt"]


@sync
async def test_transient_failures_retry_with_backoff_then_succeed(world: World) -> None:
    world.channels["email"].failures = [Transient("http-503")]
    referral = await submit(world, contact=False)
    await placed(world, referral)
    [retry] = world.of(NotificationRetryScheduled)
    assert isinstance(retry, NotificationRetryScheduled)
    assert retry.due_at == world.clock[0] + timedelta(seconds=2) and retry.attempt == 1
    world.clock[0] = retry.due_at
    await world.handlers.retry_due(retry)
    await world.handlers.retry_due(retry)  # the retry record delivered twice: still one mail
    assert len(world.channels["email"].sent) == 1


@sync
async def test_exhausted_retries_and_permanent_failures_go_to_dead_letters_with_an_alert(
        world: World) -> None:
    world.channels["email"].failures = [Transient("smtp-connection")] * 3
    world.channels["inbox"].failures = [Permanent("http-400")]
    referral = await submit(world, contact=False)
    await placed(world, referral)
    for _ in range(2):
        [*_, retry] = world.of(NotificationRetryScheduled)
        assert isinstance(retry, NotificationRetryScheduled)
        world.clock[0] = retry.due_at
        await world.handlers.retry_due(retry)
    assert world.channels["email"].sent == [] and world.channels["inbox"].sent == []
    assert sorted(reason for _, reason in world.letters) == ["http-400", "smtp-connection"]
    alerts = world.of(NotificationAlertRaised)
    assert sorted(a.reason for a in alerts if isinstance(a, NotificationAlertRaised)) == [
        "http_400", "smtp_connection"]
    assert len(world.of(NotificationRetryScheduled)) == 2  # delays [2, 10]: two retries


@sync
async def test_expiry_cancels_what_is_held_at_once(world: World) -> None:
    world.clock[0] = THREE_AM
    referral = await submit(world, expires_at=THREE_AM + timedelta(hours=2))
    await placed(world, referral)
    world.clock[0] = THREE_AM + timedelta(hours=1)
    await world.handlers.release_held()
    assert not any(isinstance(e, NotificationDelivered) and e.outcome == "cancelled"
                   for e in world.events)
    world.clock[0] = THREE_AM + timedelta(hours=2)
    await world.handlers.release_held()  # the moment it expires, not when the hours open
    [cancelled] = [e for e in world.events
                   if isinstance(e, NotificationDelivered) and e.outcome == "cancelled"]
    assert cancelled.channel == "sms"
    world.clock[0] = THREE_AM + timedelta(hours=7)
    await world.handlers.release_held()
    assert world.channels["sms"].sent == []


@sync
async def test_staff_are_reminded_once_before_expiry_unless_the_offer_closed(
        world: World) -> None:
    provider = "22222222-0000-0000-0000-000000000002"
    world.handlers.deliverer.directory[provider] = Endpoints(  # type: ignore[index]
        provider, "Shelter", email="staff@example.invalid", inbox=False)
    referral = await submit(world, contact=False)
    start = world.clock[0]
    offers = [OfferMade(offer_id=uuid.uuid4(), referral_id=uuid.UUID(referral),
                        organization_id=uuid.UUID(provider), service_id=uuid.uuid4(), rank=1,
                        expires_at=start + timedelta(hours=2)) for _ in range(2)]
    for index, offer in enumerate(offers):
        await world.handlers.offer_made(offer, f"offer-event-{index}")
    assert len(world.channels["email"].sent) == 2  # the two offers themselves
    closed = offers[1]
    await world.handlers.offer_closed(OfferClosed(
        offer_id=closed.offer_id, referral_id=closed.referral_id,
        organization_id=closed.organization_id, service_id=closed.service_id,
        outcome="accepted", closed_at=start))
    world.clock[0] = start + timedelta(minutes=89)
    await world.handlers.release_held()
    assert len(world.channels["email"].sent) == 2
    world.clock[0] = start + timedelta(minutes=90)
    await world.handlers.release_held()
    await world.handlers.release_held()
    reminders = world.channels["email"].sent[2:]
    assert len(reminders) == 1 and "expires soon" in reminders[0].subject
    assert str(offers[0].offer_id) in reminders[0].text


@sync
async def test_erasure_cancels_every_reminder_and_nothing_about_it_goes_out_later(
        world: World) -> None:
    """Issue 19, defect 1: the erasure (ids only) cancels the provider's reminder, and an
    offer or status about the erased referral read afterwards plans nothing."""
    provider = "22222222-0000-0000-0000-000000000002"
    world.handlers.deliverer.directory[provider] = Endpoints(  # type: ignore[index]
        provider, "Shelter", email="staff@example.invalid", inbox=False)
    referral = await submit(world, contact=False)
    start = world.clock[0]
    offer, late = (OfferMade(offer_id=uuid.uuid4(), referral_id=uuid.UUID(referral),
                             organization_id=uuid.UUID(provider), service_id=uuid.uuid4(),
                             rank=1, expires_at=start + timedelta(hours=2)) for _ in range(2))
    await world.handlers.offer_made(offer, "offer-event")
    sent = len(world.channels["email"].sent)
    await world.handlers.erased(ReferralErased(referral_id=uuid.UUID(referral),
                                               reason="requested", erased_at=start))
    await world.handlers.offer_made(late, "late-offer-event")  # read after the erasure
    await world.handlers.status_changed(ReferralStatusChanged(
        referral_id=uuid.UUID(referral), status=ReferralStatus.OFFERED, reason="offer_made",
        changed_at=start), "late-status")
    await world.handlers.erasure_applied(ErasureApplied(
        referral_id=uuid.UUID(referral), applied_at=start, released_holds=2, withdrawn=[
            WithdrawnOffer(offer_id=o.offer_id, organization_id=o.organization_id,
                           service_id=o.service_id) for o in (offer, late)]))
    world.clock[0] = start + timedelta(minutes=95)
    await world.handlers.release_held()
    assert len(world.channels["email"].sent) == sent, "no reminder, no late offer, no status"
    cancelled = [e for e in world.of(NotificationDelivered)
                 if isinstance(e, NotificationDelivered) and e.outcome == "cancelled"]
    assert cancelled and all(e.referral_id == uuid.UUID(referral) for e in cancelled)


@sync
async def test_a_status_read_before_its_submission_waits_for_it(world: World) -> None:
    referral = uuid.uuid4()
    event = ReferralStatusChanged(referral_id=referral, status=ReferralStatus.PLACED,
                                  reason="provider_accepted", changed_at=world.clock[0])

    async def submission_arrives_late() -> None:
        await asyncio.sleep(0.3)
        await world.handlers.referral_submitted(ReferralSubmitted(
            referral_id=referral, outreach_organization_id=uuid.UUID(OUTREACH),
            submitted_at=world.clock[0], profile=MatchingProfile(
                needs=[ServiceType.EMERGENCY_SHELTER], urgency=Urgency.TONIGHT, age_min=30,
                age_max=30, region="utrecht"),
            consents=[ConsentGrant(scope=ConsentScope.CONTACT_SURVIVOR, granted=True)]))
        await asyncio.sleep(0.3)
        terms = ContactTermsSet(referral_id=referral, channel="sms", address="+00 000000002",
                                hours_start=time(0), hours_end=time(0),
                                timezone="Europe/Amsterdam", set_at=world.clock[0])
        world.terms[str(referral)] = terms
        await world.handlers.terms_set(terms, str(referral).encode(), [])

    await asyncio.gather(world.handlers.status_changed(event, "early-status"),
                         submission_arrives_late())
    assert len(world.channels["email"].sent) == 1  # the outreach worker
    assert [m.address for m in world.channels["sms"].sent] == ["+00 000000002"]


@sync
async def test_a_capacity_reminder_retries_through_the_log_and_alerts_when_it_gives_up(
        world: World) -> None:
    world.channels["email"].failures = [Transient("smtp-connection")]
    world.channels["webhook"].failures = [Permanent("http-410")]
    world.handlers.deliverer.directory[OUTREACH] = Endpoints(  # type: ignore[index]
        OUTREACH, "Team", email="team@example.invalid", webhook_url="http://127.0.0.1:1/h")
    await world.handlers.capacity_due(CapacityConfirmationDue(
        service_id=uuid.uuid4(), organization_id=uuid.UUID(OUTREACH),
        confirmed_at=world.clock[0] - timedelta(days=2),
        due_since=world.clock[0] - timedelta(days=1)), "reminder-event")
    assert world.of(NotificationRetryScheduled) == []  # sealed per referral: not for this one
    world.clock[0] += timedelta(seconds=2)
    assert await world.handlers.release_held() == 1
    [mail] = world.channels["email"].sent
    assert "confirm" in mail.subject.lower() and mail.text.endswith("/provider/capacity")
    [alert] = world.of(NotificationAlertRaised)
    assert isinstance(alert, NotificationAlertRaised)
    assert (alert.referral_id, alert.reason) == (None, "http_410")
    assert world.letters == []


@pytest.mark.parametrize("gateway_has", [True, False])
@sync
async def test_a_gateway_that_can_be_asked_settles_a_survivor_sms_in_doubt(
        world: World, gateway_has: bool) -> None:
    world.channels["sms"] = GatewayWithLookup("sms", has=gateway_has)
    referral = await submit(world)
    sms_id = notification_id("status-1", f"survivor:{referral}", "sms")
    log.claim(world.handlers.engine, notification_id=sms_id, referral_id=referral,
              audience="survivor", channel="sms")  # a worker died after this claim
    await placed(world, referral)
    await placed(world, referral)  # redelivered: still settled once
    sent = world.channels["sms"].sent
    assert len(sent) == (0 if gateway_has else 1), "sent once in all, never twice"
    assert world.of(NotificationAlertRaised) == [], "nothing left in doubt"
    row = log.get(world.handlers.engine, sms_id)
    assert row is not None and row.state == "sent"


@pytest.mark.parametrize("provider_has", [True, False, None])
@sync
async def test_a_mail_provider_that_can_be_asked_settles_staff_mail_in_doubt(
        world: World, provider_has: bool | None) -> None:
    world.channels["email"] = GatewayWithLookup("email", has=provider_has)
    referral = await submit(world, contact=False)
    mail_id = notification_id("status-1", f"org:{OUTREACH}", "email")
    log.claim(world.handlers.engine, notification_id=mail_id, referral_id=referral,
              audience="outreach", channel="email")  # a worker died after this claim
    await placed(world, referral)
    await placed(world, referral)  # redelivered: still settled once
    # It has it: not sent again. It never got it: sent once. Nobody can tell: staff mail is
    # sent again with the same Message-ID (the receiver may drop it), once.
    assert len(world.channels["email"].sent) == (0 if provider_has else 1)
    assert len(world.channels["email"].asked_at) == 1
    row = log.get(world.handlers.engine, mail_id)
    assert row is not None and row.state == "sent"
    assert world.of(NotificationAlertRaised) == []


@sync
async def test_the_provider_is_asked_only_once_the_dead_workers_send_has_settled(
        world: World) -> None:
    gateway = GatewayWithLookup("sms", has=False)
    world.channels["sms"] = gateway
    world.handlers.deliverer.settle_after = timedelta(seconds=0.5)
    referral = await submit(world)
    sms_id = notification_id("status-1", f"survivor:{referral}", "sms")
    log.claim(world.handlers.engine, notification_id=sms_id, referral_id=referral,
              audience="survivor", channel="sms")
    row = log.get(world.handlers.engine, sms_id)
    assert row is not None
    claimed_at = row.updated_at.replace(tzinfo=UTC)
    world.clock[0] = THREE_AM + timedelta(hours=8)  # inside the person's hours
    await placed(world, referral)
    [asked] = gateway.asked_at
    assert asked - claimed_at >= timedelta(seconds=0.5)
    assert len(gateway.sent) == 1


@sync
async def test_outreach_hears_offered_once_while_the_referral_stays_offered(
        world: World) -> None:
    referral = await submit(world, contact=False)
    reasons = ["offer_made", "at_capacity", "offered_elsewhere", "waitlisted", "offer_made"]
    for n, reason in enumerate(reasons):
        world.clock[0] += timedelta(minutes=1)
        await world.handlers.status_changed(ReferralStatusChanged(
            referral_id=uuid.UUID(referral), status=ReferralStatus.OFFERED, reason=reason,
            changed_at=world.clock[0]), f"offered-{n}")
    await world.handlers.status_changed(ReferralStatusChanged(  # a redelivery of the first
        referral_id=uuid.UUID(referral), status=ReferralStatus.OFFERED, reason="offer_made",
        changed_at=world.clock[0]), "offered-0")
    assert [m.subject.split(" (")[0] for m in world.channels["email"].sent] == [
        "Your referral was offered to a provider"], "one message for five offered changes"
    await placed(world, referral)
    assert len(world.channels["email"].sent) == 2, "a change of status is news"


@sync
async def test_outreach_mail_names_its_referral_by_reference_and_the_survivor_sms_does_not(
        world: World) -> None:
    referral = await submit(world)
    await placed(world, referral)
    reference = f"R-{uuid.UUID(referral).hex[:4].upper()}-{uuid.UUID(referral).hex[4:8].upper()}"
    [mail] = world.channels["email"].sent
    assert reference in mail.subject and reference in mail.text
    assert f"https://h.example/outreach/referrals/{referral}" in mail.text
    [sms] = world.channels["sms"].sent
    assert reference not in sms.text and referral not in sms.text and "http" not in sms.text
    assert "reference" not in sms.data
