"""Open Referral HSDS 3.x JSON: the directory in and out, in the shape the sector shares.

Export is one document: organizations, each with its locations and services
(HSDS's nested "full" representation), capacity as HSDS 3.1 `service_capacity`.
What HSDS has no field for (service type, Haven's eligibility rules, region, the
waiting list) travels as HSDS `attributes` in the `haven` taxonomy, one term per
value, so other HSDS tools keep them without understanding them.

Confidential locations are exported without address and with coordinates rounded
to about 10 km, the same precision the events carry. Importing such a record over
an existing location keeps the precise data already held.

Import validates each organization on its own: one with an error is rejected whole
(with the JSON path of each problem) and the others still go in.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session, col, select

from services.intake import problems
from services.intake.directory import handlers
from services.intake.directory.models import Capacity, Location, Service
from services.intake.directory.schemas import ImportProblem, ImportReport
from services.intake.handlers import Ports, announce
from services.intake.models import Organization, OrganizationKind
from shared.events.directory import Eligibility
from shared.events.vocabulary import ServiceType

HSDS_VERSION = "3.1"
TAXONOMY = "haven"
_LIST_RULES = ("genders", "languages", "exploitation_types", "immigration_statuses",
               "accessibility")
_FLAG_RULES = ("dependents_allowed", "substance_use_accepted", "pets_allowed")


class _Loose(BaseModel):
    """HSDS records may carry fields Haven does not use; those are ignored, not refused."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class TaxonomyTerm(_Loose):
    taxonomy: str
    code: str = Field(min_length=1, max_length=64)


class Attribute(_Loose):
    taxonomy_term: TaxonomyTerm
    value: str = Field(default="", max_length=200)


class Address(_Loose):
    address_1: str = Field(default="", max_length=200)
    city: str = Field(default="", max_length=100)
    postal_code: str = Field(default="", max_length=20)
    country: str = Field(default="NL", min_length=2, max_length=2)
    address_type: str = "physical"


class HsdsLocation(_Loose):
    id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    location_type: str = "physical"
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    addresses: list[Address] = Field(default_factory=list, max_length=5)
    attributes: list[Attribute] = Field(default_factory=list)


class Unit(_Loose):
    name: str = Field(min_length=1, max_length=32)


class ServiceCapacity(_Loose):
    unit: Unit
    available: int = Field(ge=0)
    maximum: int = Field(ge=0)
    updated: datetime


class Language(_Loose):
    code: str = Field(pattern=r"^[a-z]{2,3}$")


class ServiceArea(_Loose):
    name: str = Field(min_length=1, max_length=64)


class Schedule(_Loose):
    byday: str = Field(pattern=r"^(MO|TU|WE|TH|FR|SA|SU)(,(MO|TU|WE|TH|FR|SA|SU))*$")
    opens_at: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    closes_at: str = Field(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")
    description: str = Field(default="", max_length=200)


class Phone(_Loose):
    number: str = Field(max_length=40)


class Contact(_Loose):
    name: str = Field(min_length=1, max_length=200)
    title: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=254)
    phones: list[Phone] = Field(default_factory=list, max_length=3)


class ServiceAtLocation(_Loose):
    location_id: uuid.UUID


class HsdsService(_Loose):
    id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    status: Literal["active", "inactive", "defunct", "temporarily closed"] = "active"
    minimum_age: int | None = Field(default=None, ge=0, le=120)
    maximum_age: int | None = Field(default=None, ge=0, le=120)
    languages: list[Language] = Field(default_factory=list)
    service_areas: list[ServiceArea] = Field(default_factory=list)
    schedules: list[Schedule] = Field(default_factory=list)
    contacts: list[Contact] = Field(default_factory=list)
    service_at_locations: list[ServiceAtLocation] = Field(min_length=1, max_length=1)
    capacities: list[ServiceCapacity] = Field(default_factory=list, max_length=1)
    attributes: list[Attribute] = Field(default_factory=list)


class HsdsOrganization(_Loose):
    id: uuid.UUID
    name: str = Field(min_length=2, max_length=200)
    description: str = Field(default="", max_length=2000)
    email: str = Field(default="", max_length=254)
    website: str = Field(default="", max_length=500)
    attributes: list[Attribute] = Field(default_factory=list)
    locations: list[HsdsLocation] = Field(default_factory=list)
    services: list[HsdsService] = Field(default_factory=list)


class DocumentProblem(Exception):
    """The document as a whole is not HSDS Haven can read (422 with the reason)."""


# --- export --------------------------------------------------------------------------------

def export_directory(session: Session) -> dict[str, Any]:
    """Every organization with its locations, services and capacity, as HSDS JSON."""
    locations: dict[uuid.UUID, list[Location]] = defaultdict(list)
    for location in session.exec(select(Location).order_by(col(Location.id))):
        locations[location.organization_id].append(location)
    services: dict[uuid.UUID, list[Service]] = defaultdict(list)
    for service in session.exec(select(Service).order_by(col(Service.id))):
        services[service.organization_id].append(service)
    capacity = {row.service_id: row for row in session.exec(select(Capacity))}
    organizations = [
        _organization_out(org, locations[org.id], services[org.id], capacity)
        for org in session.exec(select(Organization).order_by(col(Organization.id)))]
    return {"hsds_version": HSDS_VERSION, "organizations": organizations}


def _terms(pairs: Iterable[tuple[str, object]]) -> list[dict[str, Any]]:
    return [{"taxonomy_term": {"taxonomy": TAXONOMY, "code": code},
             "value": str(value).lower() if isinstance(value, bool) else str(value)}
            for code, value in pairs]


def _organization_out(org: Organization, locations: list[Location], services: list[Service],
                      capacity: dict[uuid.UUID, Capacity]) -> dict[str, Any]:
    return {
        "id": str(org.id), "name": org.name, "description": org.description,
        "email": org.email, "website": org.website,
        "attributes": _terms([("organization_kind", org.kind.value), ("region", org.region),
                              ("active", org.active)]),
        "locations": [_location_out(location) for location in locations],
        "services": [_service_out(service, capacity[service.id]) for service in services],
    }


def _location_out(location: Location) -> dict[str, Any]:
    confidential = location.confidential
    precision = handlers.CONFIDENTIAL_PRECISION
    return {
        "id": str(location.id), "name": location.name, "location_type": "physical",
        "latitude": round(location.latitude, precision) if confidential else location.latitude,
        "longitude": (round(location.longitude, precision) if confidential
                      else location.longitude),
        "addresses": [] if confidential else [{
            "address_1": location.address_1, "city": location.city,
            "postal_code": location.postal_code, "country": location.country,
            "address_type": "physical"}],
        "attributes": _terms([("region", location.region), ("confidential", confidential)]),
    }


def _service_out(service: Service, capacity: Capacity) -> dict[str, Any]:
    rules = Eligibility.model_validate(service.eligibility)
    terms: list[tuple[str, object]] = [("service_type", service.service_type)]
    terms += [(rule, value) for rule in _LIST_RULES if rule != "languages"
              for value in getattr(rules, rule)]
    terms += [(flag, getattr(rules, flag)) for flag in _FLAG_RULES]
    terms += [("waitlist_length", capacity.waitlist_length)]
    return {
        "id": str(service.id), "name": service.name, "description": service.description,
        "status": "active" if service.active else "inactive",
        "minimum_age": rules.age_min, "maximum_age": rules.age_max,
        "languages": [{"code": code} for code in rules.languages],
        "service_areas": [{"name": area} for area in service.service_areas],
        "schedules": service.schedules,
        "contacts": [{"name": c["name"], "title": c.get("title", ""),
                      "email": c.get("email", ""),
                      "phones": [{"number": c["phone"]}] if c.get("phone") else []}
                     for c in service.contacts],
        "service_at_locations": [{"location_id": str(service.location_id)}],
        "capacities": [{"unit": {"name": capacity.unit}, "available": capacity.available,
                        "maximum": capacity.maximum,
                        "updated": handlers.aware(capacity.confirmed_at).isoformat()}],
        "attributes": _terms(terms),
    }


# --- import --------------------------------------------------------------------------------

def import_directory(*, session: Session, ports: Ports, document: object,
                     now: datetime) -> ImportReport:
    """Upsert every valid organization; report each rejected one with its errors' paths."""
    if not isinstance(document, dict) or not isinstance(document.get("organizations"), list):
        raise DocumentProblem("organizations: an HSDS document needs a list of organizations "
                              "at the top level ({\"organizations\": [...]}).")
    report = ImportReport()
    for index, raw in enumerate(document["organizations"]):
        where = f"organizations[{index}]"
        try:
            organization = HsdsOrganization.model_validate(raw)
        except ValidationError as error:
            report.rejected += [ImportProblem(path=_path(where, problems.location(item, raw)),
                                              message=problems.message(item))
                                for item in error.errors()]
            continue
        plan = _Plan.check(session, organization, where)
        if plan.problems:
            report.rejected += plan.problems
            continue
        with session.begin_nested():
            plan.apply(session, ports, now)
        report.organizations += 1
        report.locations += len(organization.locations)
        report.services += len(organization.services)
    if report.rejected:
        report.outcome = "partly_imported" if report.organizations else "rejected"
    return report


def _path(prefix: str, loc: Iterable[int | str]) -> str:
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _values(attributes: list[Attribute], code: str) -> list[str]:
    return [a.value for a in attributes if a.taxonomy_term.taxonomy == TAXONOMY
            and a.taxonomy_term.code == code]


def _one(attributes: list[Attribute], code: str, default: str | None = None) -> str | None:
    found = _values(attributes, code)
    return found[0] if found else default


def _flag(attributes: list[Attribute], code: str, default: bool) -> bool:
    value = _one(attributes, code)
    return default if value is None else value.lower() == "true"


class _Plan:
    """One organization, checked against the contract before anything is written."""

    def __init__(self, organization: HsdsOrganization, where: str) -> None:
        self.source = organization
        self.where = where
        self.problems: list[ImportProblem] = []
        self.rules: dict[uuid.UUID, Eligibility] = {}
        self.kind = OrganizationKind.PROVIDER
        self.region = ""

    def problem(self, path: str, message: str) -> None:
        self.problems.append(ImportProblem(path=f"{self.where}{path}", message=message))

    @classmethod
    def check(cls, session: Session, organization: HsdsOrganization, where: str) -> _Plan:
        plan = cls(organization, where)
        attributes = organization.attributes
        kind = _one(attributes, "organization_kind", OrganizationKind.PROVIDER.value)
        if kind not in {k.value for k in OrganizationKind}:
            plan.problem(".attributes", "organization_kind must be one of "
                                        f"{', '.join(k.value for k in OrganizationKind)}")
        else:
            plan.kind = OrganizationKind(kind)
        plan.region = _one(attributes, "region") or ""
        if not plan.region:
            plan.problem(".attributes", "a 'region' attribute (taxonomy 'haven') is required")
        same_name = session.exec(select(Organization).where(
            Organization.name == organization.name)).first()
        if same_name is not None and same_name.id != organization.id:
            plan.problem(".name", "another organization already has this name")
        location_ids = {location.id for location in organization.locations}
        for i, location in enumerate(organization.locations):
            if not _one(location.attributes, "region"):
                plan.problem(f".locations[{i}].attributes", "a 'region' attribute is required")
            plan._owned(session.get(Location, location.id), f".locations[{i}].id")
        for i, service in enumerate(organization.services):
            plan._check_service(session, service, f".services[{i}]", location_ids)
        return plan

    def _owned(self, existing: Location | Service | None, path: str) -> None:
        if existing is not None and existing.organization_id != self.source.id:
            self.problem(path, "this id belongs to another organization")

    def _check_service(self, session: Session, service: HsdsService, path: str,
                       location_ids: set[uuid.UUID]) -> None:
        self._owned(session.get(Service, service.id), f"{path}.id")
        if service.service_at_locations[0].location_id not in location_ids:
            self.problem(f"{path}.service_at_locations[0].location_id",
                         "must name one of this organization's locations")
        service_type = _one(service.attributes, "service_type")
        if service_type not in {t.value for t in ServiceType}:
            self.problem(f"{path}.attributes", "service_type is missing or not in Haven's "
                                               "taxonomy (see docs/directory.md)")
        fields: dict[str, Any] = {rule: _values(service.attributes, rule)
                                  for rule in _LIST_RULES if rule != "languages"}
        fields["languages"] = [language.code for language in service.languages]
        fields |= {flag: _flag(service.attributes, flag, default)
                   for flag, default in (("dependents_allowed", False),
                                         ("substance_use_accepted", True),
                                         ("pets_allowed", False))}
        fields["age_min"] = 0 if service.minimum_age is None else service.minimum_age
        fields["age_max"] = 120 if service.maximum_age is None else service.maximum_age
        if fields["age_min"] > fields["age_max"]:
            self.problem(f"{path}.minimum_age", "must not be above maximum_age")
        try:
            self.rules[service.id] = Eligibility.model_validate(fields)
        except ValidationError as error:
            for item in error.errors():
                self.problem(f"{path}.attributes", f"{item['loc'][0]}: {problems.message(item)}")
        waitlist = _one(service.attributes, "waitlist_length", "0") or "0"
        if not waitlist.isdigit():
            self.problem(f"{path}.attributes", "waitlist_length must be a whole number")
        for capacity in service.capacities:
            if capacity.available > capacity.maximum:
                self.problem(f"{path}.capacities[0].available", "must not be above maximum")

    def apply(self, session: Session, ports: Ports, now: datetime) -> None:
        source = self.source
        organization = session.get(Organization, source.id) or Organization(
            id=source.id, name=source.name, kind=self.kind, region=self.region)
        organization.sqlmodel_update({
            "name": source.name, "kind": self.kind, "region": self.region,
            "description": source.description, "email": source.email,
            "website": source.website, "active": _flag(source.attributes, "active", True)})
        session.add(organization)
        session.flush()
        handlers.announce_organization(session, ports, organization)
        locations = {loc.id: self._location(session, loc, now) for loc in source.locations}
        session.flush()
        for service in source.services:
            self._service(session, ports, service, locations, now)

    def _location(self, session: Session, source: HsdsLocation, now: datetime) -> Location:
        confidential = _flag(source.attributes, "confidential", False)
        location = session.get(Location, source.id)
        keeps_precise = (location is not None and location.confidential and confidential
                         and _coarse(location) == (source.latitude, source.longitude))
        fields: dict[str, Any] = {"name": source.name, "region": _one(source.attributes, "region"),
                                  "confidential": confidential, "updated_at": now}
        if not keeps_precise:
            fields |= {"latitude": source.latitude, "longitude": source.longitude}
        if source.addresses or not confidential:
            address = source.addresses[0] if source.addresses else Address()
            fields |= address.model_dump(exclude={"address_type"})
        if location is None:
            location = Location(id=source.id, organization_id=self.source.id, latitude=0.0,
                                longitude=0.0, name=source.name, region="")
        location.sqlmodel_update(fields)
        session.add(location)
        return location

    def _service(self, session: Session, ports: Ports, source: HsdsService,
                 locations: dict[uuid.UUID, Location], now: datetime) -> None:
        location = locations[source.service_at_locations[0].location_id]
        service = session.get(Service, source.id) or Service(
            id=source.id, organization_id=self.source.id, location_id=location.id,
            name=source.name, service_type="")
        service.sqlmodel_update({
            "location_id": location.id, "name": source.name,
            "description": source.description,
            "service_type": _one(source.attributes, "service_type"),
            "active": source.status == "active",
            "eligibility": self.rules[source.id].model_dump(mode="json"),
            "service_areas": [area.name for area in source.service_areas],
            "schedules": [schedule.model_dump() for schedule in source.schedules],
            "contacts": [{"name": c.name, "title": c.title, "email": c.email,
                          "phone": c.phones[0].number if c.phones else ""}
                         for c in source.contacts],
            "updated_at": now})
        session.add(service)
        session.flush()
        announce(session, ports, handlers.service_event(service, location))
        self._capacity(session, ports, source, now)

    def _capacity(self, session: Session, ports: Ports, source: HsdsService,
                  now: datetime) -> None:
        capacity = session.get(Capacity, source.id)
        if capacity is None:
            capacity = Capacity(service_id=source.id, updated_at=now, confirmed_at=now,
                                version=0)
        given = source.capacities[0] if source.capacities else None
        wanted: dict[str, Any] = {
            "waitlist_length": int(_one(source.attributes, "waitlist_length", "0") or 0)}
        if given is not None:
            wanted |= {"unit": given.unit.name, "available": given.available,
                       "maximum": given.maximum, "confirmed_at": given.updated}
        changed = {name: value for name, value in wanted.items()
                   if _comparable(getattr(capacity, name)) != _comparable(value)}
        if not changed and capacity.version > 0:
            return
        capacity.sqlmodel_update(changed | {"updated_at": now, "version": capacity.version + 1})
        session.add(capacity)
        session.flush()
        announce(session, ports, handlers.capacity_event(capacity))


def _coarse(location: Location) -> tuple[float, float]:
    precision = handlers.CONFIDENTIAL_PRECISION
    return round(location.latitude, precision), round(location.longitude, precision)


def _comparable(value: object) -> object:
    return handlers.aware(value) if isinstance(value, datetime) else value
