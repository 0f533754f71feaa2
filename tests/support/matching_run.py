"""Matching workers as real processes on the real broker, in a consumer group of their own.

The test plays intake: it publishes a signed directory and sealed referrals with an
intake identity in its own var dir, then reads what the workers decided: hold
decisions (signed, plain) and statuses (sealed; opened with the intake identity).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from shared.events import (
    CapacityUpdated,
    Eligibility,
    Event,
    HoldDecided,
    MatchingProfile,
    OrganizationUpserted,
    ReferralStatusChanged,
    ReferralSubmitted,
    ServiceUpserted,
)
from shared.events.vocabulary import ServiceType, Urgency
from shared.identity import service_codec
from shared.kafka import EventPublisher, create_producer, ensure_topics
from shared.protection import needed_grants
from shared.recipients import INTAKE
from shared.records import IncomingRecord, RejectedRecord
from shared.settings import KafkaSettings, RuntimeSettings
from shared.topics import (
    CAPACITY_RESERVATIONS,
    CAPACITY_UPDATES,
    CONSENT_CHANGES,
    MATCHING_COMMANDS,
    REFERRAL_OFFERS,
    REFERRAL_RESPONSES,
    REFERRAL_STATUS,
    REFERRAL_SUBMITTED,
    state_topics,
)
from tests.support.kafka import end_offsets, read_until, start_group_at_end
from tests.support.processes import ServiceProcess

CONSUMED = (REFERRAL_SUBMITTED, MATCHING_COMMANDS, REFERRAL_RESPONSES, CONSENT_CHANGES,
            CAPACITY_UPDATES, CAPACITY_RESERVATIONS)
SETTLED = {"offered", "waitlisted", "returned", "placed"}


def reached(records: list[IncomingRecord], ends: dict[int, int],
            start: dict[int, int]) -> bool:
    """Everything from `start` up to the end offsets taken before reading has been read."""
    last: dict[int, int] = {}
    for record in records:
        last[record.partition] = max(last.get(record.partition, -1), record.offset)
    return all(last.get(partition, -1) >= end - 1 for partition, end in ends.items()
               if end > start.get(partition, 0))


def isolated_matching_group(kafka: KafkaSettings) -> str:
    """A consumer group (and table changelogs) of a test's own, starting at today's end."""
    app_id = f"test-matching-{uuid.uuid4().hex[:8]}"
    start_group_now(kafka, app_id)
    return app_id


def start_group_now(kafka: KafkaSettings, app_id: str) -> None:
    """The group's table changelogs, and its offsets at today's end (see start_group_at_end)."""
    ensure_topics(kafka, state_topics(app_id))
    start_group_at_end(kafka.bootstrap_servers, app_id, CONSUMED)


@dataclass
class MatchingRun:
    var_dir: Path
    kafka: KafkaSettings
    app_id: str = field(default_factory=lambda: f"test-matching-{uuid.uuid4().hex[:8]}")
    workers: dict[str, ServiceProcess] = field(default_factory=dict)
    starts: int = 0

    def __post_init__(self) -> None:
        self.runtime = RuntimeSettings(var_dir=self.var_dir)
        self.codec, _, self.grants = service_codec(INTAKE, source="/test/intake",
                                                   runtime=self.runtime, kafka=self.kafka,
                                                   reuse_grants=False)
        self.grants.start()
        self.publisher = EventPublisher(create_producer(self.kafka, client_id="test-intake"),
                                        self.codec)
        bootstrap = self.kafka.bootstrap_servers
        self.start_offsets = {spec.name: end_offsets(bootstrap, spec.name)
                              for spec in (MATCHING_COMMANDS, REFERRAL_STATUS, REFERRAL_OFFERS)}
        self._start_group_now()

    def _start_group_now(self) -> None:
        start_group_now(self.kafka, self.app_id)

    # --- processes ----------------------------------------------------------------------

    def start_worker(self, name: str, **settings: str) -> ServiceProcess:
        """A worker process; `settings` are extra HAVEN_MATCHING_* values (lower-case names)."""
        self.starts += 1
        extra = {f"HAVEN_MATCHING_{key.upper()}": value for key, value in settings.items()}
        worker = ServiceProcess("services.matching",
                                log_file=self.var_dir / f"{name}-{self.starts}.log",
                                env={"HAVEN_VAR_DIR": str(self.var_dir),
                                     "HAVEN_KAFKA_BOOTSTRAP_SERVERS":
                                         self.kafka.bootstrap_servers,
                                     "HAVEN_MATCHING_APP_ID": self.app_id, **extra})
        self.workers[name] = worker
        worker.wait_for_log("Worker ready", timeout_s=90)
        worker.wait_for_log("grants caught up", timeout_s=180)
        return worker

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()
        self.grants.stop()
        self.publisher.close()

    # --- playing intake -----------------------------------------------------------------

    def publish_directory(self, places: list[int], *,
                          kind: ServiceType = ServiceType.EMERGENCY_SHELTER) -> list[uuid.UUID]:
        """One organization with one service of `kind` per entry, each with that many places."""
        organization = uuid.uuid4()
        events: list[OrganizationUpserted | ServiceUpserted | CapacityUpdated] = [
            OrganizationUpserted(organization_id=organization, name="Test shelter network",
                                 region="utrecht")]
        services = []
        for index, count in enumerate(places):
            service = uuid.uuid4()
            services.append(service)
            events += [
                ServiceUpserted(service_id=service, organization_id=organization,
                                service_type=kind, region="utrecht",
                                latitude=52.09, longitude=5.12 + index / 100,
                                eligibility=Eligibility(), name=f"Test shelter {index}"),
                CapacityUpdated(service_id=service, available=count, maximum=count,
                                confirmed_at=datetime.now(UTC), version=1)]
        for event in events:
            for record in self.codec.encode_all(event):
                self.publisher.send(record)
        self.publisher.flush()
        return services

    def submit(self, count: int, *, accepts_waitlist: bool = True,
               need: ServiceType = ServiceType.EMERGENCY_SHELTER) -> list[uuid.UUID]:
        referrals = []
        for index in range(count):
            referral = ReferralSubmitted(
                referral_id=uuid.uuid4(), outreach_organization_id=uuid.uuid4(),
                submitted_at=datetime.now(UTC), profile=MatchingProfile(
                    needs=[need],
                    urgency=list(Urgency)[index % 3], age_min=30, age_max=30,
                    region="utrecht", accepts_waitlist=accepts_waitlist))
            for record in self.codec.encode_all(referral):
                self.publisher.send(record)
            referrals.append(referral.referral_id)
        self.publisher.flush()
        return referrals

    def set_capacity(self, service: uuid.UUID, available: int, version: int) -> None:
        """Staff's new figure for a service (as intake publishes it)."""
        self.answer(CapacityUpdated(service_id=service, available=available,
                                    maximum=max(available, 1), confirmed_at=datetime.now(UTC),
                                    version=version))

    def answer(self, *events: Event) -> None:
        """Publish what intake would after staff or the outreach worker answered."""
        for event in events:
            for record in self.codec.encode_all(event):
                self.publisher.send(record)
        self.publisher.flush()

    # --- reading what matching decided --------------------------------------------------

    def opened(self, topic: str, done: Callable[[list[object]], bool],
               timeout_s: float = 60) -> list[object]:
        """Every event on `topic` since the run began that this intake identity can open."""
        events: list[object] = []
        decoded: set[tuple[int, int]] = set()

        def enough(records: list[IncomingRecord]) -> bool:
            for record in records:
                if (record.partition, record.offset) not in decoded:
                    decoded.add((record.partition, record.offset))
                    events.append(self._open(record))
            return done(events)

        list(self._read(topic, enough, timeout_s=timeout_s))
        return events

    def _read(self, topic: str, done: object, timeout_s: float) -> Iterator[IncomingRecord]:
        yield from read_until(self.kafka.bootstrap_servers, topic, done,  # type: ignore[arg-type]
                              start=self.start_offsets[topic], timeout_s=timeout_s)

    def hold_decisions(self, services: list[uuid.UUID]) -> list[HoldDecided]:
        """Every hold decision about our services so far (signed, not sealed)."""
        ours = set(services)
        found = []
        ends = end_offsets(self.kafka.bootstrap_servers, MATCHING_COMMANDS.name)
        for record in self._read(MATCHING_COMMANDS.name, lambda got: reached(
            got, ends, self.start_offsets[MATCHING_COMMANDS.name]),
                                 timeout_s=30):
            try:
                event = self.codec.decode(record).event
            except RejectedRecord:
                continue
            if isinstance(event, HoldDecided) and event.service_id in ours:
                found.append(event)
        return found

    def statuses(self, referrals: list[uuid.UUID], *,
                 timeout_s: float = 120) -> dict[uuid.UUID, list[ReferralStatusChanged]]:
        """Status events per referral, waiting until each one has settled (or the deadline).

        What was read stays read across passes, and a record whose grant had not arrived
        is tried again in the next one: starting each pass from nothing made a loaded
        machine re-read the topic's head for ever and never reach its newest statuses,
        which then looked lost.
        """
        wanted = set(referrals)
        found: dict[uuid.UUID, dict[int, ReferralStatusChanged]] = {r: {} for r in referrals}
        done: set[tuple[int, int]] = set()  # opened, or not a status of ours

        def by_offset() -> dict[uuid.UUID, list[ReferralStatusChanged]]:
            # One referral's statuses share a partition (keyed by referral): offset order.
            return {r: [events[o] for o in sorted(events)] for r, events in found.items()}

        def all_settled() -> bool:
            return all(s and s[-1].status.value in SETTLED for s in by_offset().values())

        def settled(records: list[IncomingRecord]) -> bool:
            for record in records:
                if (record.partition, record.offset) in done:
                    continue
                referral, needed = needed_grants(record.value, record.headers,
                                                 self.grants.owner)
                if needed and not self.grants.wait_for(referral, needed, timeout_s=1):
                    continue  # its grant not read yet: the next pass tries again
                done.add((record.partition, record.offset))
                event = self._open(record)
                if isinstance(event, ReferralStatusChanged) and event.referral_id in wanted:
                    found[event.referral_id][record.offset] = event
            return all_settled()

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not all_settled():
            list(self._read(REFERRAL_STATUS.name, settled, timeout_s=10))
        return by_offset()

    def _open(self, record: IncomingRecord) -> object:
        referral, needed = needed_grants(record.value, record.headers, self.grants.owner)
        if needed and not self.grants.wait_for(referral, needed, timeout_s=5):
            return None
        try:
            return self.codec.decode(record).event
        except RejectedRecord:
            return None
