"""What the directory API accepts and returns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.events.directory import Eligibility
from shared.events.vocabulary import ServiceType


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _language_codes(codes: list[str]) -> list[str]:
    for code in codes:
        if not (2 <= len(code) <= 3 and code.isascii() and code.isalpha() and code.islower()):
            raise ValueError("languages must be ISO 639 codes such as 'en' or 'ro'")
    return codes


class EligibilityIn(Strict):
    """Who the service can take; leave a list empty when the rule does not apply."""

    genders: list[str] = Field(default_factory=list, max_length=6)
    age_min: int = Field(default=0, ge=0, le=120)
    age_max: int = Field(default=120, ge=0, le=120)
    dependents_allowed: bool = False
    # The pattern is stated for OpenAPI; the validator below gives the friendlier message.
    languages: list[str] = Field(default_factory=list, max_length=20, json_schema_extra={
        "items": {"type": "string", "pattern": "^[a-z]{2,3}$"}})
    exploitation_types: list[str] = Field(default_factory=list, max_length=5)
    immigration_statuses: list[str] = Field(default_factory=list, max_length=5)
    substance_use_accepted: bool = True
    pets_allowed: bool = False
    accessibility: list[str] = Field(default_factory=list, max_length=4)

    _languages = field_validator("languages")(_language_codes)

    @model_validator(mode="after")
    def _ordered(self) -> EligibilityIn:
        if self.age_min > self.age_max:
            raise ValueError("age_min must not be above age_max")
        return self

    def to_rules(self) -> Eligibility:
        """The contract's eligibility; raises ValueError naming an unknown code."""
        return Eligibility.model_validate(self.model_dump())


class ScheduleIn(Strict):
    """Regular hours, as in HSDS `schedule` (byday like 'MO,TU', times as HH:MM)."""

    byday: str = Field(pattern=r"^(MO|TU|WE|TH|FR|SA|SU)(,(MO|TU|WE|TH|FR|SA|SU))*$")
    opens_at: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    closes_at: str = Field(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")
    description: str = Field(default="", max_length=200)


class StaffContactIn(Strict):
    """Who partners call about this service: staff, never a client."""

    name: str = Field(min_length=1, max_length=200)
    title: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=254, pattern=r"^([^@\s]+@[^@\s]+)?$")
    phone: str = Field(default="", max_length=40, pattern=r"^(\+?[0-9 ()-]{5,40})?$")


class LocationIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    region: str = Field(min_length=1, max_length=64)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    address_1: str = Field(default="", max_length=200)
    city: str = Field(default="", max_length=100)
    postal_code: str = Field(default="", max_length=20)
    country: str = Field(default="NL", min_length=2, max_length=2)
    confidential: bool = Field(default=False, description="a shelter: the address stays inside "
                                                          "the organization")


class LocationOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    region: str
    confidential: bool
    latitude: float | None
    longitude: float | None
    address_1: str | None
    city: str | None
    postal_code: str | None
    country: str


class ServiceIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    service_type: ServiceType
    location_id: uuid.UUID
    active: bool = True
    eligibility: EligibilityIn = Field(default_factory=EligibilityIn)
    service_areas: list[str] = Field(default_factory=list, max_length=50)
    schedules: list[ScheduleIn] = Field(default_factory=list, max_length=14)
    contacts: list[StaffContactIn] = Field(default_factory=list, max_length=10)
    unit: str = Field(default="place", min_length=1, max_length=32,
                      description="what a place is: bed, appointment, case slot")


class CapacitySet(Strict):
    """Open places as staff count them now; sending it also confirms the figure."""

    available: int = Field(ge=0, le=100_000)
    maximum: int | None = Field(default=None, ge=0, le=100_000,
                                description="unchanged when omitted")
    waitlist_length: int | None = Field(default=None, ge=0, le=100_000)
    expected_version: int | None = Field(
        default=None, ge=1, description="the version you saw; a newer one answers 409 instead "
                                        "of overwriting a colleague's change")


class CapacityChange(Strict):
    """One place more or less, counted from the current figure (never lost in a race)."""

    change: int = Field(ge=-1000, le=1000)

    @field_validator("change")
    @classmethod
    def _not_zero(cls, change: int) -> int:
        if change == 0:
            raise ValueError("change must be a positive or negative number of places")
        return change


class CapacityOut(BaseModel):
    """One truth for a service's places (docs/directory.md): staff's figure, what Haven
    holds and placed since, and what is open."""

    service_id: uuid.UUID
    unit: str
    available: int = Field(description="open places as staff last counted them, Haven's "
                                       "placements up to counts_placements_through included")
    maximum: int
    held: int = Field(description="places held for offers still open (matching's ledger)")
    placed: int = Field(description="people Haven placed that the figure does not count yet")
    open: int = Field(description="what Haven may still offer: available - placed - held")
    open_now: int = Field(description="open places with Haven's placements counted in: what "
                                      "'still right' confirms and +1/-1 count from")
    counts_placements_through: int = Field(
        description="the last Haven placement number the figure counts")
    waitlist_length: int
    updated_at: datetime
    confirmed_at: datetime
    version: int
    stale: bool = Field(description="not confirmed within the network's staleness window")


class ServiceOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    organization_name: str
    name: str
    description: str
    service_type: ServiceType
    active: bool
    location: LocationOut
    eligibility: Eligibility
    service_areas: list[str]
    schedules: list[ScheduleIn]
    contacts: list[StaffContactIn]
    capacity: CapacityOut


class ImportProblem(BaseModel):
    path: str
    message: str


class ImportReport(BaseModel):
    """What an HSDS import did; nothing half-done: a rejected record changes nothing."""

    organizations: int = 0
    locations: int = 0
    services: int = 0
    rejected: list[ImportProblem] = Field(default_factory=list)
    outcome: Literal["imported", "partly_imported", "rejected"] = "imported"
