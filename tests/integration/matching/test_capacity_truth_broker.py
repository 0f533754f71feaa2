"""Issue 22 on the real broker: a place Haven filled is never offered again.

Intake is the real app (its API, outbox relay and projector, on SQLite); matching is a
real worker process; the test plays the outreach side (sealed submissions) and the
providers' answers. Both scenarios of the issue run on two services of one worker:

- 2 places, both filled by Haven; a third referral waits. "Still right" once made two
  new offers and "+1" answered 422. Now: no new offer, and "+1" offers exactly one.
- 2 open of 8, both accepted; staff free one (+1). That made three new offers. Now: one.

Afterwards, and after a burst on a third service (offers, acceptances, a decline that
moves a waiting list), intake's `held` and `placed` equal what matching's ledger holds
(read from its table's changelog).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.intake.outbox import OutboxRelay
from services.intake.projector import Projector
from services.matching.ledger import Ledger
from services.matching.state import load_ledger
from shared import topics
from shared.events import HoldDecided, OfferAccepted, OfferClosed, OfferDeclined, OfferMade
from shared.events.vocabulary import DeclineReason, ServiceType
from shared.kafka import EventPublisher, create_producer, ensure_topics
from shared.records import IncomingRecord, RejectedRecord
from shared.settings import KafkaSettings
from tests.support.intake import Intake, running_intake
from tests.support.kafka import end_offsets, read_until, start_group_at_end
from tests.support.matching_run import MatchingRun, reached
from tests.support.pages import engine
from tests.support.processes import wait_until

SHELTER, LEGAL = ServiceType.EMERGENCY_SHELTER, ServiceType.LEGAL_AID
COUNSELLING = ServiceType.COUNSELLING
LOCATION = {"name": "Test shelter", "region": "utrecht", "latitude": 52.09,
            "longitude": 5.12, "confidential": False}


@contextmanager
def _intake_edges(intake: Intake, kafka: KafkaSettings) -> Iterator[None]:
    """The outbox relay, and a projector of matching's counts in a group of its own."""
    ports = intake.client.app.state.ports  # type: ignore[attr-defined]

    def connect() -> EventPublisher:
        return EventPublisher(create_producer(kafka, client_id="test-capacity"), ports.codec)

    group = f"test-intake-counts-{uuid.uuid4().hex[:8]}"
    start_group_at_end(kafka.bootstrap_servers, group, (topics.CAPACITY_COUNTS,))
    projector = Projector(engine(intake), connect, kafka, group_id=group,
                          sources=(topics.CAPACITY_COUNTS,))
    stop = threading.Event()
    workers = [threading.Thread(target=OutboxRelay(engine(intake), connect).run, args=(stop,)),
               threading.Thread(target=projector.run, args=(stop,))]
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)


def _service(intake: Intake, kind: ServiceType, *, available: int, maximum: int) -> str:
    staff = intake.members["provider"]
    location = intake.client.post("/api/v1/locations", json=LOCATION, headers=staff.headers)
    assert location.status_code == 201, location.text
    service = intake.client.post("/api/v1/services", headers=staff.headers, json={
        "name": "Test places", "service_type": kind.value, "unit": "place",
        "location_id": location.json()["id"], "eligibility": {}})
    assert service.status_code == 201, service.text
    service_id = str(service.json()["id"])
    put = intake.client.put(f"/api/v1/services/{service_id}/capacity", headers=staff.headers,
                            json={"available": available, "maximum": maximum})
    assert put.status_code == 200, put.text
    return service_id


class Watch:
    """Hold decisions and offers about our services, read from where this run began."""

    def __init__(self, run: MatchingRun) -> None:
        self.run = run
        self.start = end_offsets(run.kafka.bootstrap_servers, topics.MATCHING_COMMANDS.name)

    def held(self, service_id: str, *, at_least: int, timeout_s: float = 60) -> list[HoldDecided]:
        """Every `held` decision for the service once at least `at_least` have arrived."""
        found: dict[tuple[int, int], HoldDecided] = {}

        def enough(records: list[IncomingRecord]) -> bool:
            for record in records:
                if (record.partition, record.offset) in found:
                    continue
                try:
                    event = self.run.codec.decode(record).event
                except RejectedRecord:
                    continue
                if (isinstance(event, HoldDecided) and str(event.service_id) == service_id
                        and event.outcome == "held"):
                    found[(record.partition, record.offset)] = event
            return len(found) >= at_least

        read_until(self.run.kafka.bootstrap_servers, topics.MATCHING_COMMANDS.name, enough,
                   start=self.start, timeout_s=timeout_s)
        return list(found.values())


def _offers(run: MatchingRun, service_id: str, count: int) -> list[OfferMade]:
    """The first `count` offers matching made for the service."""
    def made(events: list[object]) -> list[OfferMade]:
        return [e for e in events if isinstance(e, OfferMade) and str(e.service_id) == service_id]
    found = made(run.opened(topics.REFERRAL_OFFERS.name,
                            done=lambda events: len(made(events)) >= count))
    assert len(found) >= count, f"matching made {len(found)} offers, not {count}"
    return found[:count]


def _accept_offers(run: MatchingRun, service_id: str, organization: uuid.UUID,
                   count: int) -> None:
    """The provider accepts `count` offers of the service, once matching made them."""
    run.answer(*(OfferAccepted(offer_id=offer.offer_id, referral_id=offer.referral_id,
                               organization_id=organization, answered_at=datetime.now(UTC))
                 for offer in _offers(run, service_id, count)))


def _capacity(intake: Intake, service_id: str) -> dict[str, Any]:
    answer = intake.client.get(f"/api/v1/services/{service_id}/capacity",
                               headers=intake.members["provider"].headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _placements_confirmed(run: MatchingRun, service_id: str, count: int) -> bool:
    """Matching closed `count` offers of the service as accepted (placements on their way)."""
    def enough(events: list[object]) -> bool:
        return len([e for e in events if isinstance(e, OfferClosed) and e.outcome == "accepted"
                    and str(e.service_id) == service_id]) >= count
    return enough(run.opened(topics.REFERRAL_OFFERS.name, done=enough))


def _ledger(run: MatchingRun, service_id: str) -> Ledger:
    """The service's ledger as matching last stored it (its table's changelog)."""
    changelog = f"{run.app_id}-ledgers-changelog"
    key = service_id.encode()
    ends = end_offsets(run.kafka.bootstrap_servers, changelog)
    records = read_until(run.kafka.bootstrap_servers, changelog,
                         lambda got: reached(got, ends, {}), timeout_s=30)
    ours = [r for r in records if r.key is not None and key in r.key and r.value]
    assert ours, f"no ledger for {service_id} on {changelog}"
    return load_ledger(ours[-1].value)


@pytest.mark.slow
def test_a_place_haven_filled_is_never_offered_again(kafka_broker: KafkaSettings,
                                                     tmp_path: Path) -> None:
    ensure_topics(kafka_broker, [topics.CAPACITY_COUNTS])
    run = MatchingRun(tmp_path, kafka_broker)
    watch = Watch(run)
    database_url = f"sqlite:///{tmp_path / 'intake.sqlite3'}"
    try:
        with running_intake(var_dir=tmp_path, database_url=database_url,
                            kafka=kafka_broker) as intake, _intake_edges(intake, kafka_broker):
            organization = intake.members["provider"].organization_id
            # One need per scenario, so no referral waits at both services.
            full = _service(intake, SHELTER, available=2, maximum=2)
            freed = _service(intake, LEGAL, available=2, maximum=8)
            busy = _service(intake, COUNSELLING, available=4, maximum=6)
            run.start_worker("capacity")
            staff = intake.members["provider"].headers

            # Both services: two referrals each, both offers accepted; more people wait.
            for service_id, need in ((full, SHELTER), (freed, LEGAL)):
                run.submit(2, accepts_waitlist=True, need=need)
                assert len(watch.held(service_id, at_least=2)) == 2
                _accept_offers(run, service_id, organization, 2)
                assert _placements_confirmed(run, service_id, 2)
                run.submit(3, accepts_waitlist=True, need=need)
            assert wait_until(lambda: all(_capacity(intake, s).get("placed") == 2
                                          for s in (full, freed)), 60), \
                ("intake shows Haven's placements", [_capacity(intake, s) for s in (full, freed)])

            # Scenario 1: "still right" on the full service reopens nothing; +1 offers one.
            confirmed = intake.client.post(f"/api/v1/services/{full}/capacity/confirm",
                                           headers=staff)
            assert confirmed.status_code == 200 and confirmed.json()["available"] == 0
            plus = intake.client.post(f"/api/v1/services/{full}/capacity/change",
                                      headers=staff, json={"change": 1})
            assert plus.status_code == 200, plus.text  # it was a 422 ("at its maximum")
            # Scenario 2: staff free one of the freed service's places (+1).
            plus = intake.client.post(f"/api/v1/services/{freed}/capacity/change",
                                      headers=staff, json={"change": 1})
            assert plus.status_code == 200, plus.text

            for service_id in (full, freed):
                assert wait_until(lambda s=service_id: _capacity(intake, s)["held"] >= 1, 60)
                held = watch.held(service_id, at_least=3, timeout_s=10)
                assert len(held) == 3, (service_id, "exactly one new offer for one freed place")
                shown = _capacity(intake, service_id)
                assert (shown["held"], shown["placed"], shown["open"]) == (1, 0, 0), shown
                ledger = _ledger(run, service_id)
                assert (len(ledger.holds), len(ledger.placements)) == (
                    shown["held"], shown["placed"]), "intake shows what the ledger holds"

            # A burst on a third service: 8 referrals for 4 places, 2 accepted, 1 declined
            # (its place goes to the first in the queue). Intake ends where the ledger is.
            run.submit(8, accepts_waitlist=True, need=COUNSELLING)
            offers = _offers(run, busy, 4)
            run.answer(*(OfferAccepted(offer_id=o.offer_id, referral_id=o.referral_id,
                                       organization_id=organization,
                                       answered_at=datetime.now(UTC)) for o in offers[:2]),
                       OfferDeclined(offer_id=offers[2].offer_id,
                                     referral_id=offers[2].referral_id,
                                     organization_id=organization, reason=DeclineReason.OTHER,
                                     answered_at=datetime.now(UTC)))
            assert len(watch.held(busy, at_least=5)) == 5, "the declined place moved on"

            def settled() -> bool:
                ledger, shown = _ledger(run, busy), _capacity(intake, busy)
                return (len(ledger.holds), len(ledger.placements)) == (
                    shown["held"], shown["placed"]) == (2, 2)

            assert wait_until(settled, 60), (_capacity(intake, busy), _ledger(run, busy))
    finally:
        run.stop()
