"""The matching worker's wiring: topics in, pure decisions, events out, state in Faust tables.

Two tables, each owned partition by partition by exactly one worker:
- `cases` (key: referral id): a referral's candidates, offers and status
  (`cases.py`); fed by submissions, hold decisions, answers, timeouts, consent.
- `ledgers` (key: service id): a service's holds, placements and waiting list
  (`ledger.py`); fed by `capacity.reservations` only, so one worker decides every
  hold of a service in order and two workers never promise the same last place.

Every handler publishes its output and waits for the broker's acknowledgement
before it writes the table, and every output id is derived from its input; a worker
killed at any point replays the input, re-sends identical records (dropped
downstream as repeats) and ends in the same state.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import faust
from faust.types import TP

from services.matching.case_model import MatchingPolicy
from services.matching.cases import Case
from services.matching.directory_follower import DirectoryFollower
from services.matching.ledger import Decision, Ledger, Waiting
from services.matching.ranking import rank
from services.matching.state import dump_case, dump_ledger, load_case, load_ledger
from shared import topics
from shared.envelope import CloudEvent
from shared.events import (
    CapacityCounted,
    CapacityObserved,
    CapacityUpdated,
    ConsentChanged,
    DeadlineReached,
    Event,
    HoldDecided,
    HoldReleased,
    HoldRequested,
    OfferAccepted,
    OfferDeclined,
    OfferTimedOut,
    PlacementChosen,
    PlacementConfirmed,
    PlacementDeclined,
    ReferralErased,
    ReferralSubmitted,
)
from shared.events.vocabulary import ConsentScope, ReferralStatus, Urgency
from shared.identity import FolderPublicKeys, public_dir, service_codec
from shared.partitioning import referral_partitioner
from shared.recipients import MATCHING
from shared.records import Envelope, RecordCodec
from shared.settings import KafkaSettings, MatchingSettings, RuntimeSettings, WorkerSettings
from shared.streams import (
    create_faust_app,
    faust_topic,
    forget,
    publish,
    steadfast,
    store,
    verified,
)

SERVICE = "matching"
PARTITIONS = list(range(topics.REFERRAL_SUBMITTED.partitions))
log = logging.getLogger("haven.matching")
# Longer than capacity.reservations keeps records (14 days): older repeats cannot arrive.
LEDGER_MEMORY = timedelta(days=15)


def policy_from(settings: MatchingSettings) -> MatchingPolicy:
    return MatchingPolicy(
        offer_ttl={Urgency.TONIGHT: timedelta(hours=settings.offer_hours_tonight),
                   Urgency.WITHIN_DAYS: timedelta(hours=settings.offer_hours_within_days),
                   Urgency.PLANNED: timedelta(hours=settings.offer_hours_planned)},
        waitlist_breadth=settings.waitlist_breadth, mode=settings.offer_mode,
        parallel_offers=settings.parallel_offers,
        max_open_offers_per_referral=settings.max_open_offers_per_referral,
        choice_ttl=timedelta(hours=settings.choice_hours),
        stall_after={
            ReferralStatus.MATCHING: timedelta(minutes=settings.stall_minutes_matching),
            ReferralStatus.OFFERED: timedelta(hours=settings.stall_hours_offered),
            ReferralStatus.WAITLISTED: timedelta(hours=settings.stall_hours_waitlisted)},
        keep_settled=timedelta(hours=settings.keep_settled_hours))


def create_app(
    *, kafka: KafkaSettings, runtime: RuntimeSettings, worker: WorkerSettings,
    matching: MatchingSettings | None = None,
) -> faust.App:
    """Build the app; nothing connects until the worker starts."""
    settings = matching or MatchingSettings()
    policy = policy_from(settings)
    stale_after = timedelta(hours=settings.capacity_stale_after_hours)
    app = create_faust_app(SERVICE, kafka=kafka, runtime=runtime, web_port=worker.web_port,
                           web_bind=str(worker.web_bind),
                           app_id=settings.app_id)
    public_keys = FolderPublicKeys(public_dir(runtime))
    codec, sealed, grants = service_codec(MATCHING, source=f"/haven/{SERVICE}",
                                          runtime=runtime, kafka=kafka, public_keys=public_keys)
    directory = DirectoryFollower(codec=codec, kafka=kafka, public_keys=public_keys)
    cases = app.Table("cases", partitions=topics.REFERRAL_SUBMITTED.partitions,
                      key_type=bytes, value_type=bytes)
    ledgers = app.Table("ledgers", partitions=topics.CAPACITY_RESERVATIONS.partitions,
                        key_type=bytes, value_type=bytes)

    async def emit(events: list[Event], cause: CloudEvent | None) -> None:
        records = [record for index, event in enumerate(events)
                   for record in codec.encode_all(event, cause=cause,
                                                  discriminator=str(index))]
        await publish(app, *records, confirm=True)
        codec.published(records)

    case_locks = KeyedLocks()
    dispatched: dict[bytes, datetime] = {}  # per case, the deadline already announced
    next_due: dict[bytes, tuple[bytes, datetime | None]] = {}  # key -> (value, its deadline)

    def case_of(referral_id: Any) -> Case | None:
        raw = cases.get(str(referral_id).encode())
        return None if raw is None else load_case(raw)

    async def save(case: Case, events: list[Event], cause: CloudEvent) -> None:
        await emit(events, cause)
        await store(app, cases, str(case.referral_id).encode(), dump_case(case))

    @app.task  # type: ignore[untyped-decorator]  # faust ships this one untyped
    async def follow_grants_and_directory() -> None:
        grants.start()
        directory.start()

    async def opened(envelope: Envelope) -> None:
        event = envelope.event
        if not isinstance(event, ReferralSubmitted) or case_of(event.referral_id):
            return
        while not await directory.caught_up(timeout_s=30):  # never rank a half-read network
            log.warning("directory not caught up yet; referral waits",
                        extra={"referral_id": str(event.referral_id)})
        now = datetime.now(UTC)
        ranking = rank(event.profile, directory.network(), now=now, stale_after=stale_after)
        case, events = Case.open(
            referral_id=event.referral_id, needs=list(event.profile.needs),
            urgency=event.profile.urgency, accepts_waitlist=event.profile.accepts_waitlist,
            ranking=ranking, now=now, policy=policy)
        await save(case, events, envelope.attributes)

    async def commanded(envelope: Envelope) -> None:
        event, now = envelope.event, datetime.now(UTC)
        case = case_of(getattr(event, "referral_id", ""))
        if case is None:
            return
        if isinstance(event, HoldDecided):
            await save(case, case.on_hold(event, now, policy, envelope.attributes.id),
                       envelope.attributes)
        elif isinstance(event, DeadlineReached) and case.forgettable(now, policy):
            key = str(case.referral_id).encode()
            await forget(app, cases, key)  # a tombstone: the changelog forgets it too
            next_due.pop(key, None)
            dispatched.pop(key, None)
            log.info("settled case forgotten", extra={"referral_id": str(case.referral_id)})
        elif isinstance(event, DeadlineReached):
            await save(case, case.on_deadline(now, policy, envelope.attributes.id),
                       envelope.attributes)
        elif isinstance(event, OfferTimedOut):  # written by earlier versions of the timer
            await save(case, case.on_timeout(event.offer_id, now, policy,
                                             envelope.attributes.id), envelope.attributes)

    async def answered(envelope: Envelope) -> None:
        event, now, event_id = envelope.event, datetime.now(UTC), envelope.attributes.id
        case = case_of(getattr(event, "referral_id", ""))
        if case is None:
            return
        if isinstance(event, OfferAccepted):
            events = case.on_accepted(event.offer_id, event.organization_id, now, policy,
                                      event_id)
        elif isinstance(event, OfferDeclined):
            events = case.on_declined(event.offer_id, event.organization_id,
                                      event.reason.value, now, policy, event_id)
        elif isinstance(event, PlacementChosen):
            events = case.on_chosen(event.offer_id, now, event_id)
        elif isinstance(event, PlacementDeclined):
            events = case.on_person_declined(event.offer_id, event.reason.value, now, policy,
                                             event_id)
        else:
            return
        await save(case, events, envelope.attributes)

    async def consent_changed(envelope: Envelope) -> None:
        event, now = envelope.event, datetime.now(UTC)
        case = case_of(getattr(event, "referral_id", ""))
        if isinstance(event, ReferralErased):
            if case is None:  # it overtook its submission: keep a closed case meanwhile
                case = Case.erased_before_opened(event.referral_id, now)
            await save(case, case.erase(now, envelope.attributes.id), envelope.attributes)
            referral = str(event.referral_id)
            sealed.forget(referral)
            grants.ring.erase(referral)
        elif (isinstance(event, ConsentChanged) and case is not None
              and event.grant.scope is ConsentScope.SHARE_PROFILE and not event.grant.granted):
            await save(case, case.withdraw(ReferralStatus.WITHDRAWN, "consent_withdrawn", now,
                                           envelope.attributes.id), envelope.attributes)

    def case_agent(spec: topics.TopicSpec, name: str, handle: Handler, *,
                   sealed_input: bool) -> None:
        """One agent per input topic; a case is changed by one handler at a time, so a hold
        decision waits until the submission that caused it has stored the case."""

        async def agent(stream: faust.StreamT[bytes]) -> None:
            async for envelope in verified(stream, app=app, codec=codec, consumer=SERVICE,
                                           grants=grants if sealed_input else None):
                async with case_locks.hold(str(getattr(envelope.event, "referral_id", ""))):
                    await steadfast(app, partial(handle, envelope), consumer=SERVICE)

        app.agent(faust_topic(app, spec), name=name)(agent)

    case_agent(topics.REFERRAL_SUBMITTED, "on_referral_submitted", opened, sealed_input=True)
    case_agent(topics.MATCHING_COMMANDS, "on_matching_commands", commanded, sealed_input=False)
    case_agent(topics.REFERRAL_RESPONSES, "on_responses", answered, sealed_input=True)
    case_agent(topics.CONSENT_CHANGES, "on_consent_changes", consent_changed, sealed_input=True)

    @app.agent(faust_topic(app, topics.CAPACITY_UPDATES), name="on_capacity_updates")
    async def on_capacity_updates(stream: faust.StreamT[bytes]) -> None:
        """Staff's figures go to the service's single owner, in line with its holds."""
        async for envelope in verified(stream, app=app, codec=codec, consumer=SERVICE):
            event = envelope.event
            if isinstance(event, CapacityUpdated):
                await steadfast(app, partial(emit, [CapacityObserved(
                    service_id=event.service_id, available=event.available,
                    version=event.version, confirmed_at=event.confirmed_at,
                    counts_placements_through=event.counts_placements_through)],
                    envelope.attributes), consumer=SERVICE)

    @app.agent(faust_topic(app, topics.CAPACITY_RESERVATIONS), name="on_reservations")
    async def on_reservations(stream: faust.StreamT[bytes]) -> None:
        async for envelope in verified(stream, app=app, codec=codec, consumer=SERVICE):
            await steadfast(app, partial(reserved, envelope), consumer=SERVICE)

    async def reserved(envelope: Envelope) -> None:
        """A ledger's next input; read afresh on every attempt, so a retry decides again."""
        event, now = envelope.event, datetime.now(UTC)
        service_id = getattr(event, "service_id", None)
        if service_id is None:
            return
        key = str(service_id).encode()
        raw = ledgers.get(key)
        ledger = Ledger() if raw is None else load_ledger(raw)
        ledger.hold_limit = settings.max_open_offers_per_service
        before = ledger.counts()
        decisions = _apply_to_ledger(ledger, event, now)
        ledger.forget(before=now - LEDGER_MEMORY)
        events: list[Event] = [HoldDecided(
            referral_id=d.referral_id, service_id=service_id, offer_id=d.offer_id,
            outcome=d.outcome, reason=d.reason, decided_at=now) for d in decisions]
        counts = ledger.recount(before)
        if counts is not None:  # intake shows what the ledger holds and placed
            events.append(CapacityCounted(
                service_id=service_id, held=counts.held, pending=counts.pending,
                placements_through=counts.placements_through, waitlisted=counts.waitlisted,
                figure_version=counts.figure_version, revision=counts.revision,
                counted_at=now))
        await emit(events, envelope.attributes)
        await store(app, ledgers, key, dump_ledger(ledger))

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def watch_deadlines() -> None:
        """Cases on this worker's own partitions with something due get a DeadlineReached
        (once per deadline here; the case itself ignores a repeat). A case is parsed again
        only when its stored value changed, so idle cases cost a lookup per second."""
        actives = app.assignor.assigned_actives()
        now = datetime.now(UTC)
        for key, raw in list(cases.items()):
            known = next_due.get(key)
            if known is None or known[0] is not raw:
                known = next_due[key] = (raw, load_case(raw).next_deadline(policy))
            due = known[1]
            if due is None or due > now or dispatched.get(key) == due:
                continue
            partition = referral_partitioner(key, PARTITIONS, [])
            if TP(topics.REFERRAL_SUBMITTED.name, partition) not in actives:
                continue
            dispatched[key] = due
            await emit_plain(codec, app, DeadlineReached(referral_id=uuid.UUID(key.decode()),
                                                         due_at=due, at=now))

    return app


async def emit_plain(codec: RecordCodec, app: faust.App, event: Event) -> None:
    records = codec.encode_all(event)
    await publish(app, *records, confirm=True)
    codec.published(records)


Handler = Callable[[Envelope], Awaitable[None]]


class KeyedLocks:
    """One asyncio lock per key, alive only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        async with lock:
            yield


def _apply_to_ledger(ledger: Ledger, event: Event, now: datetime) -> list[Decision]:
    if isinstance(event, HoldRequested):
        return ledger.request(Waiting(event.offer_id, event.referral_id, event.urgency,
                                      event.waiting_since), join_waitlist=event.join_waitlist)
    if isinstance(event, HoldReleased):
        return ledger.release(event.offer_id, at=now)
    if isinstance(event, PlacementConfirmed):
        return ledger.place(event.offer_id, event.placed_at)
    if isinstance(event, CapacityObserved):
        return ledger.observe(event.available, event.version, event.confirmed_at,
                              counts_placements_through=event.counts_placements_through)
    return []
