"""HSDS API reads (the paths of HSDS 3.1's OpenAPI): organizations, services, taxonomies,
one page at a time, in the same shape as the export (confidential locations coarse)."""

from __future__ import annotations

import math
import uuid
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.intake.directory import hsds_taxonomy as taxonomy
from services.intake.directory.hsds_export import location_out, organization_out, service_out
from services.intake.directory.models import Capacity, Location, Service
from services.intake.models import Organization


def page(*, items: list[dict[str, Any]], total: int, number: int,
         per_page: int) -> dict[str, Any]:
    """HSDS's `Page`: the counts and flags, with the entities as `contents`."""
    pages = max(1, math.ceil(total / per_page))
    return {"total_items": total, "total_pages": pages, "page_number": number,
            "size": len(items), "first_page": number == 1, "last_page": number >= pages,
            "empty": total == 0, "contents": items}


def organizations(session: Session, *, number: int, per_page: int) -> dict[str, Any]:
    """One page of organizations, each fully nested as in the export."""
    total = session.exec(select(func.count()).select_from(Organization)).one()
    chosen = session.exec(select(Organization).order_by(col(Organization.id))
                          .offset((number - 1) * per_page).limit(per_page)).all()
    return page(items=[organization(session, org) for org in chosen], total=total,
                number=number, per_page=per_page)


def organization(session: Session, org: Organization) -> dict[str, Any]:
    """One organization with its locations, services and capacity."""
    locations = session.exec(select(Location).where(Location.organization_id == org.id)
                             .order_by(col(Location.id))).all()
    services = session.exec(select(Service).where(Service.organization_id == org.id)
                            .order_by(col(Service.id))).all()
    capacity = {row.service_id: row for row in session.exec(
        select(Capacity).where(col(Capacity.service_id).in_([s.id for s in services])))}
    return organization_out(org, list(locations), list(services), capacity)


def services(session: Session, *, number: int, per_page: int,
             organization_id: uuid.UUID | None = None) -> dict[str, Any]:
    """One page of services (optionally of one organization)."""
    query = select(Service)
    counted = select(func.count()).select_from(Service)
    if organization_id is not None:
        query = query.where(Service.organization_id == organization_id)
        counted = counted.where(Service.organization_id == organization_id)
    total = session.exec(counted).one()
    chosen = session.exec(query.order_by(col(Service.id))
                          .offset((number - 1) * per_page).limit(per_page)).all()
    return page(items=[service(session, item) for item in chosen], total=total,
                number=number, per_page=per_page)


def service(session: Session, item: Service) -> dict[str, Any]:
    """A service in HSDS's full form: its organization and its location nested."""
    capacity = session.get(Capacity, item.id)
    location = session.get(Location, item.location_id)
    org = session.get(Organization, item.organization_id)
    assert capacity is not None and location is not None and org is not None
    out = service_out(item, capacity)
    out["organization_id"] = str(org.id)
    out["organization"] = {"id": str(org.id), "name": org.name,
                           "description": org.description}
    out["service_at_locations"][0]["location"] = location_out(location)
    return out


def taxonomies(*, number: int, per_page: int) -> dict[str, Any]:
    """Haven publishes one taxonomy, `haven`, with its terms."""
    items = [taxonomy.taxonomy()] if number == 1 else []
    return page(items=items, total=1, number=number, per_page=per_page)
