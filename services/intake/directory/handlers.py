"""Directory use cases: each change is committed with the event that announces it.

Events carry the whole current state of their key (organization, service, capacity),
so the compacted topics always hold the directory, and a consumer that replays them
from the start rebuilds it exactly (`directory_events` is that state, from the database).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlmodel import Session, col, select

from services.intake import problems
from services.intake.audit import Action, Subject, audit
from services.intake.auth import Principal
from services.intake.directory import capacity_rules
from services.intake.directory.capacity_rules import Places
from services.intake.directory.models import Capacity, Location, Service
from services.intake.directory.schemas import (
    CapacityChange,
    CapacityOut,
    CapacitySet,
    LocationIn,
    LocationOut,
    ScheduleIn,
    ServiceIn,
    ServiceOut,
    StaffContactIn,
)
from services.intake.handlers import Conflict, NotFound, Ports, announce
from services.intake.models import Organization, Role
from shared.crypto.keystore import PublicKeyRecord
from shared.events import CapacityConfirmationDue, CapacityCounted, CapacityUpdated, Event
from shared.events.directory import Eligibility, OrganizationUpserted, ServiceUpserted
from shared.events.vocabulary import ServiceType

# Confidential places travel as about 10 km squares: enough for distance, not a door.
CONFIDENTIAL_PRECISION = 1


class Forbidden(Exception):
    """The caller is known but may not change this (another organization's record)."""


def may_edit(principal: Principal, organization_id: uuid.UUID) -> None:
    """Provider staff edit their own organization; network admins any organization."""
    if principal.role is Role.NETWORK_ADMIN:
        return
    if principal.role is Role.PROVIDER_STAFF and principal.organization_id == organization_id:
        return
    raise Forbidden("Only staff of the organization that runs this service (or a network "
                    "admin) may change it.")


# --- organizations -------------------------------------------------------------------------

def announce_organization(session: Session, ports: Ports, organization: Organization) -> None:
    announce(session, ports, organization_event(organization))


def organization_event(organization: Organization) -> OrganizationUpserted:
    return OrganizationUpserted(
        organization_id=organization.id, name=organization.name, region=organization.region,
        kind=organization.kind.value, active=organization.active,
        public_keys=[PublicKeyRecord.model_validate(key) for key in organization.public_keys])


def publish_keys(session: Session, ports: Ports, organization: Organization,
                 records: list[PublicKeyRecord]) -> None:
    """Replace the organization's published keys (rotation adds, retirement drops one)."""
    organization.public_keys = [record.model_dump(mode="json") for record in records]
    session.add(organization)
    announce_organization(session, ports, organization)


# --- locations -----------------------------------------------------------------------------

def save_location(
    *, session: Session, ports: Ports, principal: Principal, organization_id: uuid.UUID,
    body: LocationIn, now: datetime, location_id: uuid.UUID | None = None,
) -> Location:
    """Add or change a location; services there are re-announced (their coordinates moved)."""
    may_edit(principal, organization_id)
    if session.get(Organization, organization_id) is None:
        raise NotFound("No organization with this id.")
    location = Location(organization_id=organization_id, **body.model_dump())
    if location_id is not None:
        existing = session.get(Location, location_id)
        if existing is None:
            raise NotFound("No location with this id.")
        may_edit(principal, existing.organization_id)
        existing.sqlmodel_update(body.model_dump())
        location = existing
    location.updated_at = now
    session.add(location)
    session.flush()
    for service in session.exec(select(Service).where(Service.location_id == location.id)):
        announce(session, ports, service_event(service, location))
    return location


def location_view(location: Location, viewer: Principal) -> LocationOut:
    """A confidential location's address and exact position only for its own organization."""
    shown = not location.confidential or viewer.organization_id == location.organization_id
    return LocationOut(
        id=location.id, organization_id=location.organization_id, name=location.name,
        region=location.region, confidential=location.confidential,
        latitude=location.latitude if shown else None,
        longitude=location.longitude if shown else None,
        address_1=location.address_1 if shown else None, city=location.city if shown else None,
        postal_code=location.postal_code if shown else None, country=location.country)


# --- services ------------------------------------------------------------------------------

def save_service(
    *, session: Session, ports: Ports, principal: Principal, organization_id: uuid.UUID,
    body: ServiceIn, now: datetime, service_id: uuid.UUID | None = None,
) -> Service:
    """Add or change a service and announce it; a new service starts with 0 places."""
    may_edit(principal, organization_id)
    location = session.get(Location, body.location_id)
    if location is None or location.organization_id != organization_id:
        raise NotFound("No location with this id in this organization; add the location first.")
    try:
        rules = body.eligibility.to_rules()
    except ValueError as error:
        raise InvalidDirectoryData(f"eligibility: {_first_message(error)}") from error
    fields: dict[str, Any] = {
        "name": body.name, "description": body.description,
        "service_type": body.service_type.value, "location_id": body.location_id,
        "active": body.active, "eligibility": rules.model_dump(mode="json"),
        "service_areas": body.service_areas,
        "schedules": [s.model_dump() for s in body.schedules],
        "contacts": [c.model_dump() for c in body.contacts], "updated_at": now,
    }
    if service_id is None:
        service = Service(organization_id=organization_id, **fields)
        session.add(service)
        session.flush()
        capacity = Capacity(service_id=service.id, unit=body.unit, updated_at=now,
                            confirmed_at=now)
        session.add(capacity)
        session.flush()
        announce(session, ports, service_event(service, location))
        announce(session, ports, capacity_event(capacity))
        return service
    existing = session.get(Service, service_id)
    if existing is None:
        raise NotFound("No service with this id.")
    may_edit(principal, existing.organization_id)
    existing.sqlmodel_update(fields)
    session.add(existing)
    session.flush()
    announce(session, ports, service_event(existing, location))
    return existing


class InvalidDirectoryData(Exception):
    """A value the contract does not know (e.g. an unknown gender code); 422 for the caller."""


def _first_message(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        first = errors()[0]
        path = ".".join(str(p) for p in first.get("loc", ()))
        return f"{path}: {problems.message(first)}"
    return str(error)


def service_event(service: Service, location: Location) -> ServiceUpserted:
    latitude, longitude = location.latitude, location.longitude
    if location.confidential:
        latitude = round(latitude, CONFIDENTIAL_PRECISION)
        longitude = round(longitude, CONFIDENTIAL_PRECISION)
    return ServiceUpserted(
        service_id=service.id, organization_id=service.organization_id,
        service_type=ServiceType(service.service_type), region=location.region,
        latitude=latitude, longitude=longitude,
        eligibility=Eligibility.model_validate(service.eligibility), name=service.name,
        active=service.active, service_areas=service.service_areas,
        intake_hours=_hours(service.schedules))


def _hours(schedules: list[dict[str, str]]) -> str:
    return "; ".join(f"{s['byday']} {s['opens_at']}-{s['closes_at']}" for s in schedules)[:200]


def service_view(session: Session, service: Service, viewer: Principal, *, now: datetime,
                 stale_after: timedelta) -> ServiceOut:
    location = session.get(Location, service.location_id)
    organization = session.get(Organization, service.organization_id)
    capacity = session.get(Capacity, service.id)
    assert location is not None and organization is not None and capacity is not None
    return ServiceOut(
        id=service.id, organization_id=service.organization_id,
        organization_name=organization.name, name=service.name,
        description=service.description, service_type=ServiceType(service.service_type),
        active=service.active, location=location_view(location, viewer),
        eligibility=Eligibility.model_validate(service.eligibility),
        service_areas=service.service_areas,
        schedules=[ScheduleIn.model_validate(s) for s in service.schedules],
        contacts=[StaffContactIn.model_validate(c) for c in service.contacts],
        capacity=capacity_view(capacity, now=now, stale_after=stale_after))


# --- capacity ------------------------------------------------------------------------------

def capacity_event(capacity: Capacity) -> CapacityUpdated:
    return CapacityUpdated(
        service_id=capacity.service_id, unit=capacity.unit, available=capacity.available,
        maximum=capacity.maximum, waitlist_length=capacity.waitlist_length,
        confirmed_at=capacity.confirmed_at, version=capacity.version,
        updated_at=capacity.updated_at, counts_placements_through=capacity.counted_through)


def is_stale(capacity: Capacity, *, now: datetime, stale_after: timedelta) -> bool:
    return now - aware(capacity.confirmed_at) > stale_after


def places_of(capacity: Capacity) -> Places:
    """The row as the pure rules see it (capacity_rules.py)."""
    return Places(available=capacity.available, maximum=capacity.maximum,
                  counted_through=capacity.counted_through, held=capacity.held,
                  pending=tuple(capacity.pending),
                  placements_through=capacity.placements_through,
                  revision=capacity.ledger_revision)


def capacity_view(capacity: Capacity, *, now: datetime, stale_after: timedelta) -> CapacityOut:
    places = places_of(capacity)
    return CapacityOut(
        service_id=capacity.service_id, unit=capacity.unit, available=capacity.available,
        maximum=capacity.maximum, held=places.held, placed=places.placed, open=places.open,
        open_now=places.open_now, counts_placements_through=capacity.counted_through,
        waitlist_length=capacity.waitlist_length,
        updated_at=capacity.updated_at, confirmed_at=capacity.confirmed_at,
        version=capacity.version,
        stale=is_stale(capacity, now=now, stale_after=stale_after))


def set_capacity(*, session: Session, ports: Ports, principal: Principal,
                 service_id: uuid.UUID, body: CapacitySet, now: datetime) -> Capacity:
    """Staff's count of open places; with expected_version, a colleague's newer change wins."""
    _editable_capacity(session, principal, service_id)
    extra: dict[str, object] = {}
    if body.waitlist_length is not None:
        extra["waitlist_length"] = body.waitlist_length
    return _staff_figure(
        session, ports, principal, service_id, now,
        partial(capacity_rules.set_figure, available=body.available, maximum=body.maximum),
        expected_version=body.expected_version, extra=extra)


def change_capacity(*, session: Session, ports: Ports, principal: Principal,
                    service_id: uuid.UUID, body: CapacityChange, now: datetime) -> Capacity:
    """One place taken or freed, counted from the open places now (Haven's included)."""
    _editable_capacity(session, principal, service_id)
    return _staff_figure(session, ports, principal, service_id, now,
                         partial(capacity_rules.change_figure, change=body.change))


def confirm_capacity(*, session: Session, ports: Ports, principal: Principal,
                     service_id: uuid.UUID, now: datetime) -> Capacity:
    """"Still right": the open places now, Haven's placements counted in, are confirmed
    (one click for staff); the event says through which placement the figure counts."""
    _editable_capacity(session, principal, service_id)
    return _staff_figure(session, ports, principal, service_id, now,
                         capacity_rules.confirm_figure)


# A staff figure is read, decided by the pure rules and written back guarded by its version;
# a colleague's change in between (or matching's counts, on SQLite) means read again.
_ATTEMPTS = 50


def _staff_figure(session: Session, ports: Ports, principal: Principal,
                  service_id: uuid.UUID, now: datetime, rule: Callable[[Places], Places], *,
                  expected_version: int | None = None,
                  extra: dict[str, object] | None = None) -> Capacity:
    for _ in range(_ATTEMPTS):
        current = session.get(Capacity, service_id, populate_existing=True,
                              with_for_update=True)
        assert current is not None
        if expected_version is not None and current.version != expected_version:
            raise Conflict("A colleague changed this capacity since you loaded it. Reload to "
                           "see the current figure, then send yours again.")
        try:
            new = rule(places_of(current))
        except capacity_rules.FigureRefused as refused:
            raise InvalidDirectoryData(str(refused)) from refused
        values: dict[str, object] = {
            "available": new.available, "maximum": new.maximum,
            "counted_through": new.counted_through, "updated_at": now, "confirmed_at": now,
            "confirmed_by": principal.subject, "version": current.version + 1, **(extra or {}),
        }
        if _apply(session, [col(Capacity.service_id) == service_id,
                            col(Capacity.version) == current.version], values):
            return _announced(session, ports, service_id, principal, now)
    raise Conflict("Too many changes to this capacity at once; send yours again.")


def record_counts(session: Session, event: CapacityCounted) -> bool:
    """Matching's ledger counted this service again: holds and Haven's placements."""
    return _apply(session, [col(Capacity.service_id) == event.service_id,
                            col(Capacity.ledger_revision) < event.revision],
                  {"held": event.held, "pending": list(event.pending),
                   "placements_through": event.placements_through,
                   "ledger_revision": event.revision})


def _editable_capacity(session: Session, principal: Principal,
                       service_id: uuid.UUID) -> Capacity:
    service = session.get(Service, service_id)
    capacity = session.get(Capacity, service_id)
    if service is None or capacity is None:
        raise NotFound("No service with this id.")
    may_edit(principal, service.organization_id)
    return capacity


def _apply(session: Session, guard: Sequence[ColumnElement[bool]],
           values: dict[str, object]) -> bool:
    """One UPDATE statement: the database serializes concurrent writers on the row."""
    result = session.connection().execute(update(Capacity).where(*guard).values(**values))
    return bool(result.rowcount)


def _announced(session: Session, ports: Ports, service_id: uuid.UUID, principal: Principal,
               now: datetime) -> Capacity:
    """Announce the changed figure and put the change on record, in the same transaction."""
    capacity = session.get(Capacity, service_id, populate_existing=True)
    assert capacity is not None
    announce_capacity(session, ports, capacity)
    audit(session, principal, Action.CAPACITY_UPDATED, Subject.SERVICE, service_id, now)
    return capacity


def announce_capacity(session: Session, ports: Ports, capacity: Capacity) -> None:
    announce(session, ports, capacity_event(capacity))


# --- staleness -----------------------------------------------------------------------------

def remind_stale(*, session: Session, ports: Ports, now: datetime,
                 stale_after: timedelta) -> int:
    """Ask the notifier to remind staff of capacity not confirmed in time; once per lapse."""
    cutoff = now - stale_after
    due = session.exec(select(Capacity).where(col(Capacity.confirmed_at) < cutoff)).all()
    reminded = 0
    for capacity in due:
        if capacity.reminded_at is not None and aware(capacity.reminded_at) >= aware(
                capacity.confirmed_at) + stale_after:
            continue
        service = session.get(Service, capacity.service_id)
        if service is None or not service.active:
            continue
        announce(session, ports, CapacityConfirmationDue(
            service_id=capacity.service_id, organization_id=service.organization_id,
            confirmed_at=capacity.confirmed_at, due_since=aware(capacity.confirmed_at)
            + stale_after))
        capacity.reminded_at = now
        session.add(capacity)
        reminded += 1
    return reminded


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time here is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- the whole directory -------------------------------------------------------------------

def directory_events(session: Session) -> Iterator[Event]:
    """The directory's current state as events: what the compacted topics must hold."""
    for organization in session.exec(select(Organization).order_by(col(Organization.id))):
        yield organization_event(organization)
    for service in session.exec(select(Service).order_by(col(Service.id))):
        location = session.get(Location, service.location_id)
        assert location is not None
        yield service_event(service, location)
    for capacity in session.exec(select(Capacity).order_by(col(Capacity.service_id))):
        yield capacity_event(capacity)
