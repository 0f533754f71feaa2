"""The directory: staff keep their services and open places current; everyone can look.

Reading is open to every member of the network (that is the point of a shared
directory); changing is for the organization's own staff and for network admins.
Confidential addresses are shown only to their own organization.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, UploadFile, status
from sqlmodel import col, select

from services.intake.api.deps import Admin, AnyMember, Editor, NowDep, PortsDep, SessionDep
from services.intake.auth import Principal
from services.intake.directory import handlers, hsds, hsds_tabular
from services.intake.directory.models import Capacity, Location, Service
from services.intake.directory.schemas import (
    CapacityChange,
    CapacityOut,
    CapacitySet,
    ImportReport,
    LocationIn,
    LocationOut,
    ServiceIn,
    ServiceOut,
)
from services.intake.handlers import NotFound
from shared.events.vocabulary import ServiceType

router = APIRouter(prefix="/api/v1", tags=["directory"])
OrganizationChoice = Annotated[uuid.UUID | None, Query(
    description="admins only: the organization to act for (staff always act for their own)")]


def _stale_after(request: Request) -> timedelta:
    hours: float = request.app.state.capacity_stale_after_hours
    return timedelta(hours=hours)


def _acting_for(caller: Principal, organization_id: uuid.UUID | None) -> uuid.UUID:
    if organization_id is None:
        return caller.organization_id
    handlers.may_edit(caller, organization_id)
    return organization_id


def _service(session: SessionDep, service_id: uuid.UUID) -> Service:
    service = session.get(Service, service_id)
    if service is None:
        raise NotFound("No service with this id.")
    return service


@router.get("/services")
def list_services(
    request: Request, session: SessionDep, caller: AnyMember, now: NowDep,
    service_type: ServiceType | None = None, region: str | None = Query(None, max_length=64),
    mine: bool = Query(False, description="only my organization's services"),
) -> list[ServiceOut]:
    """The network's services with open places right now, optionally filtered."""
    query = select(Service).order_by(col(Service.name))
    if service_type is not None:
        query = query.where(Service.service_type == service_type.value)
    if mine:
        query = query.where(Service.organization_id == caller.organization_id)
    if region is not None:
        query = query.join(Location, col(Location.id) == col(Service.location_id)).where(
            Location.region == region)
    return [handlers.service_view(session, row, caller, now=now,
                                  stale_after=_stale_after(request))
            for row in session.exec(query.limit(2000))]


@router.get("/services/{service_id}")
def read_service(service_id: uuid.UUID, request: Request, session: SessionDep,
                 caller: AnyMember, now: NowDep) -> ServiceOut:
    return handlers.service_view(session, _service(session, service_id), caller, now=now,
                                 stale_after=_stale_after(request))


@router.post("/services", status_code=status.HTTP_201_CREATED)
def add_service(body: ServiceIn, request: Request, session: SessionDep, ports: PortsDep,
                caller: Editor, now: NowDep,
                organization_id: OrganizationChoice = None) -> ServiceOut:
    """A new service of your organization; it starts with 0 open places until you set them."""
    service = handlers.save_service(
        session=session, ports=ports, principal=caller, now=now, body=body,
        organization_id=_acting_for(caller, organization_id))
    session.commit()
    return handlers.service_view(session, service, caller, now=now,
                                 stale_after=_stale_after(request))


@router.put("/services/{service_id}")
def change_service(service_id: uuid.UUID, body: ServiceIn, request: Request,
                   session: SessionDep, ports: PortsDep, caller: Editor,
                   now: NowDep) -> ServiceOut:
    service = _service(session, service_id)
    service = handlers.save_service(
        session=session, ports=ports, principal=caller, now=now, body=body,
        organization_id=service.organization_id, service_id=service_id)
    session.commit()
    return handlers.service_view(session, service, caller, now=now,
                                 stale_after=_stale_after(request))


@router.get("/services/{service_id}/capacity")
def read_capacity(service_id: uuid.UUID, request: Request, session: SessionDep,
                  caller: AnyMember, now: NowDep) -> CapacityOut:
    capacity = session.get(Capacity, service_id)
    if capacity is None:
        raise NotFound("No service with this id.")
    return handlers.capacity_view(capacity, now=now, stale_after=_stale_after(request))


@router.put("/services/{service_id}/capacity")
def set_capacity(service_id: uuid.UUID, body: CapacitySet, request: Request,
                 session: SessionDep, ports: PortsDep, caller: Editor,
                 now: NowDep) -> CapacityOut:
    """Set open places (and confirm them) in one call."""
    capacity = handlers.set_capacity(session=session, ports=ports, principal=caller,
                                     service_id=service_id, body=body, now=now)
    session.commit()
    return handlers.capacity_view(capacity, now=now, stale_after=_stale_after(request))


@router.post("/services/{service_id}/capacity/change")
def change_capacity(service_id: uuid.UUID, body: CapacityChange, request: Request,
                    session: SessionDep, ports: PortsDep, caller: Editor,
                    now: NowDep) -> CapacityOut:
    """One place taken (-1) or freed (+1), counted from the current figure."""
    capacity = handlers.change_capacity(session=session, ports=ports, principal=caller,
                                        service_id=service_id, body=body, now=now)
    session.commit()
    return handlers.capacity_view(capacity, now=now, stale_after=_stale_after(request))


@router.post("/services/{service_id}/capacity/confirm")
def confirm_capacity(service_id: uuid.UUID, request: Request, session: SessionDep,
                     ports: PortsDep, caller: Editor, now: NowDep) -> CapacityOut:
    """The figure is still right: one click makes it fresh again."""
    capacity = handlers.confirm_capacity(session=session, ports=ports, principal=caller,
                                         service_id=service_id, now=now)
    session.commit()
    return handlers.capacity_view(capacity, now=now, stale_after=_stale_after(request))


@router.get("/locations")
def list_locations(session: SessionDep, caller: AnyMember) -> list[LocationOut]:
    """Your organization's locations (with their addresses)."""
    rows = session.exec(select(Location).where(
        Location.organization_id == caller.organization_id).order_by(col(Location.name)))
    return [handlers.location_view(row, caller) for row in rows]


@router.post("/locations", status_code=status.HTTP_201_CREATED)
def add_location(body: LocationIn, session: SessionDep, ports: PortsDep, caller: Editor,
                 now: NowDep, organization_id: OrganizationChoice = None) -> LocationOut:
    location = handlers.save_location(
        session=session, ports=ports, principal=caller, body=body, now=now,
        organization_id=_acting_for(caller, organization_id))
    session.commit()
    return handlers.location_view(location, caller)


@router.put("/locations/{location_id}")
def change_location(location_id: uuid.UUID, body: LocationIn, session: SessionDep,
                    ports: PortsDep, caller: Editor, now: NowDep) -> LocationOut:
    existing = session.get(Location, location_id)
    if existing is None:
        raise NotFound("No location with this id.")
    location = handlers.save_location(
        session=session, ports=ports, principal=caller, body=body, now=now,
        organization_id=existing.organization_id, location_id=location_id)
    session.commit()
    return handlers.location_view(location, caller)


@router.get("/directory/hsds")
def export_hsds(session: SessionDep, _: AnyMember) -> dict[str, Any]:
    """The directory as HSDS 3.x JSON; confidential addresses are never included."""
    return hsds.export_directory(session)


HSDS_DOCUMENT = {"requestBody": {"content": {"application/json": {"schema": {
    "type": "object", "required": ["organizations"],
    "description": "HSDS 3.0/3.1 full representation; see docs/directory.md.",
    "properties": {"hsds_version": {"type": "string"},
                   "organizations": {"type": "array", "items": {"type": "object"}}}}}}}}


@router.post("/directory/hsds", openapi_extra=HSDS_DOCUMENT)
def import_hsds(document: Annotated[dict[str, Any], Body()], session: SessionDep,
                ports: PortsDep, _: Admin, now: NowDep) -> ImportReport:
    """Add or update organizations, locations and services from HSDS JSON.

    Each organization is taken whole or not at all; the report names every rejected
    record with the path of each error.
    """
    report = hsds.import_directory(session=session, ports=ports, document=document, now=now)
    session.commit()
    return report


@router.post("/directory/hsds/tabular")
async def import_hsds_tabular(file: UploadFile, session: SessionDep, ports: PortsDep,
                              _: Admin, now: NowDep) -> ImportReport:
    """Import HSDS's tabular form: a zip of the data package's CSV files.

    The tables are nested into the full representation and checked as the JSON import
    is, with the same report.
    """
    document = hsds_tabular.nest(hsds_tabular.read_zip(await file.read()))
    report = hsds.import_directory(session=session, ports=ports, document=document, now=now)
    session.commit()
    return report
