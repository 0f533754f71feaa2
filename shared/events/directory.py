"""Directory and capacity events: compacted, keyed by organization or service id.

Each event is the whole current state of its key, so the latest record per key (what
compaction keeps) is the directory. Fields added after v1 have defaults, so older
records still read; a removal is a tombstone (null value) on the same key.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared import topics
from shared.crypto.keystore import PublicKeyRecord
from shared.events.base import Event, register
from shared.events.vocabulary import (
    Accessibility,
    ExploitationType,
    GenderIdentity,
    ImmigrationStatus,
    ServiceType,
)

PublicKeyRef = PublicKeyRecord  # the directory publishes exactly what the key store exports


class Eligibility(BaseModel):
    """Who a service can take. An empty list means "no restriction" for that rule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    genders: list[GenderIdentity] = Field(default_factory=list)
    age_min: int = Field(default=0, ge=0, le=120)
    age_max: int = Field(default=120, ge=0, le=120)
    dependents_allowed: bool = False
    languages: list[str] = Field(default_factory=list)
    exploitation_types: list[ExploitationType] = Field(default_factory=list)
    immigration_statuses: list[ImmigrationStatus] = Field(default_factory=list)
    substance_use_accepted: bool = True
    pets_allowed: bool = False
    accessibility: list[Accessibility] = Field(default_factory=list,
                                               description="needs the service can meet")


@register
class OrganizationUpserted(Event):
    event_type: ClassVar[str] = "org.haven.directory.organization_upserted.v1"
    topic: ClassVar[topics.TopicSpec] = topics.DIRECTORY_ORGANIZATIONS

    organization_id: UUID
    name: str = Field(min_length=1, max_length=200)
    region: str = Field(min_length=1, max_length=64)
    kind: Literal["outreach", "provider", "coordinator"] = "provider"
    active: bool = True
    public_keys: list[PublicKeyRecord] = Field(default_factory=list)

    def key(self) -> str:
        return str(self.organization_id)


@register
class ServiceUpserted(Event):
    """A service with the facts matching needs; a confidential location is coarsened here."""

    event_type: ClassVar[str] = "org.haven.directory.service_upserted.v1"
    topic: ClassVar[topics.TopicSpec] = topics.DIRECTORY_SERVICES

    service_id: UUID
    organization_id: UUID
    service_type: ServiceType
    region: str = Field(min_length=1, max_length=64)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    eligibility: Eligibility
    name: str = Field(default="", max_length=200)
    active: bool = True
    service_areas: list[str] = Field(default_factory=list, description="regions it serves")
    intake_hours: str = Field(default="", max_length=200, description="e.g. 'Mo-Su 00:00-24:00'")

    def key(self) -> str:
        return str(self.service_id)


@register
class CapacityUpdated(Event):
    """HSDS 3.1 `service_capacity` plus what Haven adds: holds, waitlist, last confirmation."""

    event_type: ClassVar[str] = "org.haven.capacity.updated.v1"
    topic: ClassVar[topics.TopicSpec] = topics.CAPACITY_UPDATES

    service_id: UUID
    unit: str = Field(default="place", max_length=32)
    available: int = Field(ge=0)
    maximum: int = Field(ge=0)
    waitlist_length: int = Field(default=0, ge=0)
    confirmed_at: datetime
    version: int = Field(default=0, ge=0, description="grows with every change of this service")
    updated_at: datetime | None = None
    counts_placements_through: int | None = Field(
        default=None, ge=0, description="the figure counts Haven's placements numbered up to "
        "this (CapacityCounted.placements_through); None: none of them (older intake)")

    def key(self) -> str:
        return str(self.service_id)


@register
class CapacityConfirmationDue(Event):
    """A service's capacity was not confirmed for too long: the notifier reminds its staff."""

    event_type: ClassVar[str] = "org.haven.capacity.confirmation_due.v1"
    topic: ClassVar[topics.TopicSpec] = topics.CAPACITY_REMINDERS

    service_id: UUID
    organization_id: UUID
    confirmed_at: datetime
    due_since: datetime

    def key(self) -> str:
        return str(self.service_id)
