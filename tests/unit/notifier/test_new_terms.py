"""New contact terms in the notifier: the newest record wins, in whatever order records come,
and a survivor message still waiting goes on the channel, to the address and in the hours
of the terms in force when it is sent."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from itertools import permutations
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifier import delivery_log as log
from services.notifier.channels import Outgoing
from services.notifier.delivery import Deliverer
from services.notifier.handlers import Handlers
from services.notifier.model import Endpoints
from services.notifier.policy import terms_supersede
from services.notifier.rendering import Renderer
from shared.events import (
    ConsentChanged,
    ConsentGrant,
    ContactTermsSet,
    Event,
    MatchingProfile,
    NotificationDelivered,
    NotificationRetryScheduled,
    ReferralStatusChanged,
    ReferralSubmitted,
)
from shared.events.vocabulary import ConsentScope, ReferralStatus, ServiceType, Urgency

OUTREACH = "11111111-0000-0000-0000-000000000002"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # 13:00 in Amsterdam
OLD_PHONE, NEW_PHONE, NEW_EMAIL = "+00 000000011", "+00 000000022", "new@example.invalid"
times = st.none() | st.datetimes(timezones=st.just(UTC))


@given(incoming=st.datetimes(timezones=st.just(UTC)), stored=times, decided=times)
def test_terms_replace_only_what_is_not_newer(incoming: datetime, stored: datetime | None,
                                              decided: datetime | None) -> None:
    applies = terms_supersede(incoming, stored=stored, decided=decided)
    if stored is not None and stored > incoming:
        assert not applies  # a late record never overwrites newer terms
    if decided is not None and decided > incoming:
        assert not applies  # nor terms a later withdrawal ended
    if (stored is None or stored <= incoming) and (decided is None or decided <= incoming):
        assert applies


@dataclass
class Recorder:
    """A channel that takes everything and remembers it."""

    sent: list[Outgoing] = field(default_factory=list)

    async def send(self, message: Outgoing) -> None:
        self.sent.append(message)


@dataclass
class World:
    handlers: Handlers
    channels: dict[str, Recorder]
    events: list[Event]
    clock: list[datetime]
    sealed: dict[bytes, ContactTermsSet]
    referral: uuid.UUID = field(default_factory=uuid.uuid4)

    def run(self, *steps: Event) -> None:
        asyncio.run(self._all(steps))

    async def _all(self, steps: Sequence[Event]) -> None:
        for step in steps:
            await self._one(step)

    async def _one(self, step: Event) -> None:
        if isinstance(step, ContactTermsSet):
            value = f"{step.referral_id}|{step.set_at.isoformat()}".encode()
            self.sealed[value] = step
            await self.handlers.terms_set(step, value, [])
        elif isinstance(step, ConsentChanged):
            await self.handlers.consent_changed(step)
        elif isinstance(step, ReferralSubmitted):
            await self.handlers.referral_submitted(step)
        elif isinstance(step, ReferralStatusChanged):
            await self.handlers.status_changed(step, f"status-{step.changed_at.isoformat()}")

    def release(self, at: datetime) -> None:
        self.clock[0] = at
        asyncio.run(self.handlers.release_held())

    def submitted(self) -> ReferralSubmitted:
        return ReferralSubmitted(
            referral_id=self.referral, outreach_organization_id=uuid.UUID(OUTREACH),
            submitted_at=T0, profile=MatchingProfile(
                needs=[ServiceType.EMERGENCY_SHELTER], urgency=Urgency.TONIGHT, age_min=30,
                age_max=30, region="utrecht"),
            consents=[ConsentGrant(scope=ConsentScope.CONTACT_SURVIVOR, granted=True)])

    def terms(self, at: datetime, *, channel: str = "sms", address: str = OLD_PHONE,
              hours: tuple[time, time] = (time(0), time(0))) -> ContactTermsSet:
        return ContactTermsSet.model_validate({
            "referral_id": self.referral, "channel": channel, "address": address,
            "hours_start": hours[0], "hours_end": hours[1], "timezone": "Europe/Amsterdam",
            "set_at": at})

    def decision(self, at: datetime, granted: bool) -> ConsentChanged:
        return ConsentChanged(referral_id=self.referral, changed_at=at, grant=ConsentGrant(
            scope=ConsentScope.CONTACT_SURVIVOR, granted=granted))

    def placed(self, at: datetime) -> ReferralStatusChanged:
        return ReferralStatusChanged(referral_id=self.referral, status=ReferralStatus.PLACED,
                                     reason="provider_accepted", changed_at=at)

    def to_survivor(self) -> list[tuple[str, str]]:
        return [(name, m.address) for name, channel in self.channels.items()
                for m in channel.sent if m.data.get("audience") == "survivor"]


@pytest.fixture
def world(tmp_path: Path) -> World:
    engine = log.open_log(f"sqlite:///{tmp_path / 'log.sqlite3'}")
    channels = {name: Recorder() for name in ("webhook", "email", "sms", "inbox")}
    events: list[Event] = []
    clock = [T0]
    terms: dict[bytes, ContactTermsSet] = {}

    async def publish(batch: list[Event]) -> None:
        events.extend(batch)

    async def letter(event: NotificationRetryScheduled, reason: str) -> None:
        raise AssertionError("nothing may fail here")

    async def open_terms(value: bytes, headers: Sequence[tuple[str, bytes]]
                         ) -> ContactTermsSet | None:
        return terms.get(value)

    box: list[Handlers] = []
    deliverer = Deliverer(
        engine=engine, channels=channels, renderer=Renderer(),
        directory={OUTREACH: Endpoints(OUTREACH, "Outreach team", inbox=False)},
        publish=publish, consent_of=lambda r: box[0].consent_of(r), dead_letter=letter,
        retry_delays=[2.0], clock=lambda: clock[0])
    handlers = Handlers(deliverer=deliverer, open_terms=open_terms, link_base="https://h.example",
                        wait_for_facts_s=0.2)
    box.append(handlers)
    return World(handlers, channels, events, clock, terms)


T1, T2 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)


@pytest.mark.parametrize("order", list(permutations(range(3))))
def test_a_grant_after_withdrawal_with_new_terms_wins_in_any_order(
        world: World, order: tuple[int, ...]) -> None:
    """Withdrawal, new grant and new terms travel on two topics: any order, same result."""
    world.run(world.submitted(), world.terms(T0))
    later = [world.decision(T1, False), world.decision(T2, True),
             world.terms(T2, channel="email", address=NEW_EMAIL)]
    world.run(*(later[i] for i in order))
    world.run(world.terms(T0))  # the first terms read again after a crash: changes nothing
    world.run(world.placed(T2 + timedelta(minutes=1)))
    assert world.to_survivor() == [("email", NEW_EMAIL)]


def test_a_late_older_record_never_overwrites_newer_terms(world: World) -> None:
    world.run(world.submitted(), world.terms(T2, address=NEW_PHONE), world.terms(T1))
    world.run(world.placed(T2 + timedelta(minutes=1)))
    assert world.to_survivor() == [("sms", NEW_PHONE)]


def _held_at_night(world: World) -> datetime:
    """A placement at 03:00 their time, with safe hours 09-17: the message waits."""
    night = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    world.clock[0] = night
    world.run(world.submitted(), world.terms(T0, hours=(time(9), time(17))),
              world.placed(night))
    assert world.to_survivor() == []
    return night


def test_a_held_message_moves_to_the_new_channel_and_goes_there_once(world: World) -> None:
    night = _held_at_night(world)
    world.run(world.terms(night, channel="email", address=NEW_EMAIL,
                          hours=(time(9), time(17))))
    cancelled = [e for e in world.events
                 if isinstance(e, NotificationDelivered) and e.outcome == "cancelled"]
    assert [e.channel for e in cancelled] == ["sms"]
    world.release(night + timedelta(hours=7))  # 09:00 in Amsterdam
    world.release(night + timedelta(hours=8))
    assert world.to_survivor() == [("email", NEW_EMAIL)]


def test_a_held_message_follows_new_hours_and_a_new_number(world: World) -> None:
    night = _held_at_night(world)
    world.run(world.terms(night, address=NEW_PHONE, hours=(time(5), time(6))))
    world.release(night + timedelta(hours=1, minutes=30))  # 04:30 there: not yet
    assert world.to_survivor() == []
    world.release(night + timedelta(hours=2, minutes=10))  # 05:10 there: the new window,
    world.release(night + timedelta(hours=7))  # before the old one (09:00) opened
    assert world.to_survivor() == [("sms", NEW_PHONE)]


def test_a_held_message_is_cancelled_when_the_person_asks_for_calls_instead(
        world: World) -> None:
    night = _held_at_night(world)
    world.run(world.terms(night, channel="phone_call", address=NEW_PHONE,
                          hours=(time(9), time(17))))
    world.release(night + timedelta(hours=8))
    assert world.to_survivor() == []


def test_a_log_made_before_terms_were_ordered_gets_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notifier_contact (referral_id VARCHAR(64) PRIMARY KEY, "
                   "granted BOOLEAN, expires_at DATETIME, terms_value BLOB, "
                   "terms_headers VARCHAR, changed_at DATETIME NOT NULL)")
    log.open_log(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(notifier_contact)")}
    assert "terms_set_at" in columns
