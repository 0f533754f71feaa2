"""The compacted directory topics are the directory: replayed from offset 0 into an empty
consumer, they rebuild exactly what the intake database holds (after edits, too)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from services.intake.auth import Principal
from services.intake.directory import handlers
from services.intake.directory.models import Location, Service
from services.intake.directory.schemas import CapacityChange, LocationIn
from services.intake.directory.seed import seed_demo_network
from services.intake.main import create_app
from services.intake.models import OutboxMessage, Role
from shared.directory_view import DIRECTORY_TOPICS, DirectoryView
from shared.events import OrganizationUpserted
from shared.identity import private_store, service_codec
from shared.recipients import MATCHING
from shared.records import IncomingRecord, RejectedRecord
from shared.settings import IntakeSettings, KafkaSettings, RuntimeSettings
from tests.support.kafka import end_offsets, read_until


def _edit(session: Session, ports: Any, now: datetime) -> None:
    """Changes after the seed, so the topics hold several versions per key."""
    admin = Principal(subject=uuid.uuid4(), organization_id=uuid.uuid4(),
                      role=Role.NETWORK_ADMIN)
    services = session.exec(select(Service).order_by(col(Service.id))).all()
    for service in services[:5]:
        capacity = handlers._editable_capacity(session, admin, service.id)
        change = 1 if capacity.available < capacity.maximum else -1
        handlers.change_capacity(session=session, ports=ports, principal=admin,
                                 service_id=service.id, body=CapacityChange(change=change),
                                 now=now)
    location = session.exec(select(Location).order_by(col(Location.id))).first()
    assert location is not None
    handlers.save_location(
        session=session, ports=ports, principal=admin, organization_id=location.organization_id,
        location_id=location.id, now=now,
        body=LocationIn(name="Moved test location", region="utrecht", latitude=52.09,
                        longitude=5.12, confidential=not location.confidential))


def _reached(records: list[IncomingRecord], ends: dict[int, int]) -> bool:
    """Read up to the end offsets taken before reading (compaction leaves offset gaps)."""
    last: dict[int, int] = {}
    for record in records:
        last[record.partition] = max(last.get(record.partition, -1), record.offset)
    return all(last.get(partition, -1) >= end - 1 for partition, end in ends.items() if end)


def _published(engine: Any, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with Session(engine) as session:
            if not session.exec(select(OutboxMessage).where(
                    col(OutboxMessage.published_at).is_(None))).first():
                return
        time.sleep(0.2)
    raise AssertionError("the outbox relay did not publish everything in time")


def test_replaying_the_compacted_topics_rebuilds_the_directory(
        kafka_broker: KafkaSettings, tmp_path: Path) -> None:
    runtime = RuntimeSettings(var_dir=tmp_path)
    app = create_app(intake=IntakeSettings(database_url=f"sqlite:///{tmp_path / 'i.sqlite3'}"),
                     kafka=kafka_broker, runtime=runtime)
    with TestClient(app):
        with Session(app.state.engine) as session:
            now = datetime.now(UTC)
            seed_demo_network(session=session, ports=app.state.ports, now=now, providers=8,
                              namespace=uuid.uuid4(),
                              keys=lambda owner: private_store(runtime, owner))
            session.commit()
            _edit(session, app.state.ports, now)
            session.commit()
            expected = {(e.topic.name, e.key()): e for e in handlers.directory_events(session)}
        _published(app.state.engine)

    organizations = {key for topic, key in expected if topic == "directory.organizations"}
    codec, _, _ = service_codec(MATCHING, source="/test/replay", runtime=runtime,
                                kafka=kafka_broker)

    def rebuild(records: list[IncomingRecord]) -> dict[tuple[str, str], Any]:
        view = DirectoryView()
        for record in records:
            if record.value is None:
                view.forget(record.topic, (record.key or b"").decode())
                continue
            try:
                view.apply(codec.decode(record).event)
            except RejectedRecord:  # other runs on this broker signed with keys we never saw
                continue
        services = {k: s for k, s in view.services.items()
                    if str(s.organization_id) in organizations}
        return ({("directory.organizations", k): o for k, o in view.organizations.items()
                 if k in organizations}
                | {("directory.services", k): s for k, s in services.items()}
                | {("capacity.updates", k): c for k, c in view.capacity.items()
                   if k in services})

    records: list[IncomingRecord] = []
    for spec in DIRECTORY_TOPICS:
        ends = end_offsets(kafka_broker.bootstrap_servers, spec.name)
        records += read_until(kafka_broker.bootstrap_servers, spec.name,
                              lambda got, ends=ends: _reached(got, ends), timeout_s=60)
    rebuilt = rebuild(records)
    assert rebuilt.keys() == expected.keys()
    for key, event in expected.items():
        assert rebuilt[key] == event, key
    keys_published = [o for o in rebuilt.values() if isinstance(o, OrganizationUpserted)
                      and o.public_keys]
    assert len(keys_published) >= 8  # every seeded organization publishes its keys
