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

import re
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlmodel import Session, select

from services.intake import problems
from services.intake.db import begin_writing
from services.intake.directory import handlers
from services.intake.directory import hsds_taxonomy as taxonomy
from services.intake.directory.hsds_export import HSDS_VERSION, export_directory
from services.intake.directory.models import Capacity, Location, Service
from services.intake.directory.schemas import ImportProblem, ImportReport
from services.intake.handlers import Ports, announce
from services.intake.models import Organization, OrganizationKind
from shared.events.directory import Eligibility
from shared.events.vocabulary import ServiceType

TAXONOMY = taxonomy.NAME
_LIST_RULES = taxonomy.LIST_RULES
_FLAG_RULES = taxonomy.FLAG_RULES
__all__ = ["HSDS_VERSION", "DocumentProblem", "export_directory", "import_directory"]


class _Loose(BaseModel):
    """HSDS records may carry fields Haven does not use; those are ignored, not refused."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class TaxonomyTerm(_Loose):
    """Only terms of the `haven` taxonomy mean something here; others pass through unread."""

    taxonomy: str = Field(default="", max_length=200)
    taxonomy_id: str = Field(default="", max_length=64)
    code: str = Field(default="", max_length=200)

    def is_haven(self, code: str) -> bool:
        return self.code == code and (self.taxonomy == TAXONOMY
                                      or self.taxonomy_id == str(taxonomy.ID))


class Attribute(_Loose):
    taxonomy_term: TaxonomyTerm
    value: str = Field(default="", max_length=2000)


class Address(_Loose):
    address_1: str = Field(default="", max_length=200)
    city: str = Field(default="", max_length=100)
    state_province: str = Field(default="", max_length=64)
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
    name: str = Field(min_length=1, max_length=1000)


_TIME = re.compile(r"^(?P<hm>([01]\d|2[0-3]):[0-5]\d|24:00)(:[0-5]\d(\.\d+)?)?"
                   r"(Z|[+-]\d\d:?\d\d)?$")


def _hours_minutes(value: str) -> str:
    """HSDS times as other tools write them (`10:00`, `10:00:00`, `10:00:00Z`) -> HH:MM."""
    match = _TIME.match(value)
    if match is None:
        raise ValueError("should be a time like 09:00 or 09:00:00")
    return match["hm"]


HsdsTime = Annotated[str, AfterValidator(_hours_minutes)]


class Schedule(_Loose):
    """Weekly hours. HSDS allows schedules Haven cannot use (monthly, no hours): kept out."""

    byday: str | None = Field(
        default=None, pattern=r"^(MO|TU|WE|TH|FR|SA|SU)(,(MO|TU|WE|TH|FR|SA|SU))*$")
    opens_at: HsdsTime | None = None
    closes_at: HsdsTime | None = None
    description: str = Field(default="", max_length=200)

    def weekly(self) -> dict[str, str] | None:
        """The schedule as Haven stores it, or None when it has no weekly hours."""
        if not (self.byday and self.opens_at and self.closes_at):
            return None
        return {"byday": self.byday, "opens_at": self.opens_at, "closes_at": self.closes_at,
                "description": self.description}


class Phone(_Loose):
    number: str = Field(max_length=40)


class Contact(_Loose):
    name: str = Field(min_length=1, max_length=200)
    title: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=254)
    phones: list[Phone] = Field(default_factory=list, max_length=3)


class _LocationRef(_Loose):
    id: uuid.UUID


class ServiceAtLocation(_Loose):
    """HSDS links a service to a location by `location_id` or by nesting the `location`."""

    location_id: uuid.UUID | None = None
    location: _LocationRef | None = None

    @model_validator(mode="after")
    def _names_a_location(self) -> ServiceAtLocation:
        if self.location_id is None:
            if self.location is None:
                raise ValueError("needs a location_id or a nested location with its id")
            self.location_id = self.location.id
        return self

    @property
    def target(self) -> uuid.UUID:
        """The linked location's id (the validator made sure there is one)."""
        assert self.location_id is not None
        return self.location_id


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
    """An organization in HSDS's full representation.

    A service_at_location may nest its location instead of listing it under the
    organization; such locations are taken as the organization's own.
    """

    id: uuid.UUID
    name: str = Field(min_length=2, max_length=200)
    description: str = Field(default="", max_length=2000)
    email: str = Field(default="", max_length=254)
    website: str = Field(default="", max_length=500)
    attributes: list[Attribute] = Field(default_factory=list)
    locations: list[HsdsLocation] = Field(default_factory=list)
    services: list[HsdsService] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _hoist_nested_locations(cls, raw: object) -> object:
        if not isinstance(raw, dict):
            return raw
        locations = list(raw.get("locations") or [])
        known = {loc.get("id") for loc in locations if isinstance(loc, dict)}
        for service in raw.get("services") or []:
            links = service.get("service_at_locations") if isinstance(service, dict) else None
            for link in links if isinstance(links, list) else []:
                nested = link.get("location") if isinstance(link, dict) else None
                if isinstance(nested, dict) and nested.get("id") not in known:
                    locations.append(nested)
                    known.add(nested.get("id"))
        return {**raw, "locations": locations}


class DocumentProblem(Exception):
    """The document as a whole is not HSDS Haven can read (422 with the reason)."""


# --- import --------------------------------------------------------------------------------

def import_directory(*, session: Session, ports: Ports, document: object,
                     now: datetime) -> ImportReport:
    """Upsert every valid organization; report each rejected one with its errors' paths."""
    if not isinstance(document, dict) or not isinstance(document.get("organizations"), list):
        raise DocumentProblem("organizations: an HSDS document needs a list of organizations "
                              "at the top level ({\"organizations\": [...]}).")
    begin_writing(session)
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
    return [a.value for a in attributes if a.taxonomy_term.is_haven(code)]


def _one(attributes: list[Attribute], code: str, default: str | None = None) -> str | None:
    found = _values(attributes, code)
    return found[0] if found else default


def _region(location: HsdsLocation) -> str:
    """Haven's `region` attribute, else the state_province other HSDS tools write."""
    return _one(location.attributes, "region") or next(
        (a.state_province for a in location.addresses if a.state_province), "")


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
        plan.region = _one(attributes, "region") or next(
            (region for location in organization.locations if (region := _region(location))), "")
        if not plan.region:
            plan.problem(".attributes", "a 'region' attribute (taxonomy 'haven') is required")
        same_name = session.exec(select(Organization).where(
            Organization.name == organization.name)).first()
        if same_name is not None and same_name.id != organization.id:
            plan.problem(".name", "another organization already has this name")
        location_ids = {location.id for location in organization.locations}
        for i, location in enumerate(organization.locations):
            if not _region(location):
                plan.problem(f".locations[{i}].attributes", "a 'region' attribute (or an "
                             "address with its state_province) is required")
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
        if service.service_at_locations[0].target not in location_ids:
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
        fields: dict[str, Any] = {"name": source.name, "region": _region(source),
                                  "confidential": confidential, "updated_at": now}
        if not keeps_precise:
            fields |= {"latitude": source.latitude, "longitude": source.longitude}
        if source.addresses or not confidential:
            address = source.addresses[0] if source.addresses else Address()
            fields |= address.model_dump(exclude={"address_type", "state_province"})
        if location is None:
            location = Location(id=source.id, organization_id=self.source.id, latitude=0.0,
                                longitude=0.0, name=source.name, region="")
        location.sqlmodel_update(fields)
        session.add(location)
        return location

    def _service(self, session: Session, ports: Ports, source: HsdsService,
                 locations: dict[uuid.UUID, Location], now: datetime) -> None:
        location = locations[source.service_at_locations[0].target]
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
            "schedules": [weekly for schedule in source.schedules
                          if (weekly := schedule.weekly()) is not None],
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
