"""The directory as one HSDS 3.1 document, valid against the specification's compiled schemas.

HSDS 3.1 gives every nested object (attribute, language, service area, schedule,
contact, phone, address, service_at_location, service_capacity, unit) an `id`.
Haven keeps most of them as plain values, so their ids are derived from the owning
record (uuid5 of the owner's id and the object's role), which makes a second export
identical to the first. Optional text that Haven holds as "" is left out: an empty
string is not a valid `email` or `uri`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from services.intake.directory import handlers
from services.intake.directory import hsds_taxonomy as taxonomy
from services.intake.directory.models import Capacity, Location, Service
from services.intake.models import Organization
from shared.events.directory import Eligibility

HSDS_VERSION = "3.1"
_UNITS = uuid.uuid5(uuid.NAMESPACE_URL, "https://haven.example/hsds/units")


def child_id(owner: uuid.UUID, *role: object) -> str:
    """A nested object's id: stable for the same owner and role, distinct otherwise."""
    return str(uuid.uuid5(owner, ":".join(str(part) for part in role)))


def export_directory(session: Session) -> dict[str, Any]:
    """Every organization with its locations, services and capacity, plus the taxonomy."""
    locations: dict[uuid.UUID, list[Location]] = defaultdict(list)
    for location in session.exec(select(Location).order_by(col(Location.id))):
        locations[location.organization_id].append(location)
    services: dict[uuid.UUID, list[Service]] = defaultdict(list)
    for service in session.exec(select(Service).order_by(col(Service.id))):
        services[service.organization_id].append(service)
    capacity = {row.service_id: row for row in session.exec(select(Capacity))}
    organizations = [
        organization_out(org, locations[org.id], services[org.id], capacity)
        for org in session.exec(select(Organization).order_by(col(Organization.id)))]
    return {"hsds_version": HSDS_VERSION, "taxonomies": [taxonomy.taxonomy()],
            "taxonomy_terms": taxonomy.terms(), "organizations": organizations}


def _present(**fields: object) -> dict[str, object]:
    """The optional fields that hold something; HSDS has no use for ""."""
    return {name: value for name, value in fields.items() if value not in ("", None)}


def _attributes(owner: uuid.UUID, pairs: Iterable[tuple[str, object]]) -> list[dict[str, Any]]:
    out = []
    for code, raw in pairs:
        value = str(raw).lower() if isinstance(raw, bool) else str(raw)
        term = taxonomy.term(code)
        out.append({"id": child_id(owner, "attribute", code, value),
                    "taxonomy_term_id": term["id"], "taxonomy_term": term, "value": value})
    return out


def organization_out(org: Organization, locations: list[Location], services: list[Service],
                     capacity: dict[uuid.UUID, Capacity]) -> dict[str, Any]:
    """One organization in HSDS's full (nested) representation."""
    return {
        "id": str(org.id), "name": org.name, "description": org.description,
        **_present(email=org.email, website=org.website),
        "attributes": _attributes(org.id, [("organization_kind", org.kind.value),
                                           ("region", org.region), ("active", org.active)]),
        "locations": [location_out(location) for location in locations],
        "services": [service_out(service, capacity[service.id]) for service in services],
    }


def location_out(location: Location) -> dict[str, Any]:
    """A location; a confidential one without address and with coarse coordinates."""
    confidential = location.confidential
    precision = handlers.CONFIDENTIAL_PRECISION
    address = {"id": child_id(location.id, "address"), "address_1": location.address_1,
               "city": location.city, "state_province": location.region,
               "postal_code": location.postal_code, "country": location.country,
               "address_type": "physical"}
    return {
        "id": str(location.id), "name": location.name, "location_type": "physical",
        "latitude": round(location.latitude, precision) if confidential else location.latitude,
        "longitude": (round(location.longitude, precision) if confidential
                      else location.longitude),
        "addresses": [] if confidential else [address],
        "attributes": _attributes(location.id, [("region", location.region),
                                                ("confidential", confidential)]),
    }


def _contact(service: Service, index: int, contact: dict[str, str]) -> dict[str, Any]:
    contact_id = child_id(service.id, "contact", index)
    phones = ([{"id": child_id(uuid.UUID(contact_id), "phone", 0), "number": contact["phone"]}]
              if contact.get("phone") else [])
    return {"id": contact_id, "name": contact["name"],
            **_present(title=contact.get("title"), email=contact.get("email")),
            "phones": phones}


def service_out(service: Service, capacity: Capacity) -> dict[str, Any]:
    """A service with its languages, areas, hours, contacts, location link and capacity."""
    rules = Eligibility.model_validate(service.eligibility)
    terms: list[tuple[str, object]] = [("service_type", service.service_type)]
    terms += [(rule, value) for rule in taxonomy.LIST_RULES if rule != "languages"
              for value in getattr(rules, rule)]
    terms += [(flag, getattr(rules, flag)) for flag in taxonomy.FLAG_RULES]
    terms += [("waitlist_length", capacity.waitlist_length)]
    return {
        "id": str(service.id), "name": service.name,
        **_present(description=service.description),
        "status": "active" if service.active else "inactive",
        "minimum_age": rules.age_min, "maximum_age": rules.age_max,
        "languages": [{"id": child_id(service.id, "language", code), "code": code}
                      for code in rules.languages],
        "service_areas": [{"id": child_id(service.id, "service_area", area), "name": area}
                          for area in service.service_areas],
        "schedules": [{"id": child_id(service.id, "schedule", i), **_present(**schedule)}
                      for i, schedule in enumerate(service.schedules)],
        "contacts": [_contact(service, i, contact)
                     for i, contact in enumerate(service.contacts)],
        "service_at_locations": [{
            "id": child_id(service.id, "service_at_location", service.location_id),
            "location_id": str(service.location_id)}],
        "capacities": [{
            "id": child_id(service.id, "capacity"),
            "unit": {"id": str(uuid.uuid5(_UNITS, capacity.unit)), "name": capacity.unit},
            "available": capacity.available, "maximum": capacity.maximum,
            "updated": handlers.aware(capacity.confirmed_at).isoformat()}],
        "attributes": _attributes(service.id, terms),
    }
