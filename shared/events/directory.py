"""Directory and capacity events: compacted, keyed by organization or service id."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared import topics
from shared.events.base import Event, register
from shared.events.vocabulary import ExploitationType, GenderIdentity, ServiceType


class PublicKeyRef(BaseModel):
    """A published key: enough for others to encrypt to, and to verify, this organization."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str = Field(min_length=8, max_length=64)
    algorithm: str = Field(max_length=64)
    public_key_b64: str = Field(max_length=4096)


class Eligibility(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    genders: list[GenderIdentity] = Field(default_factory=list)
    age_min: int = Field(default=0, ge=0, le=120)
    age_max: int = Field(default=120, ge=0, le=120)
    dependents_allowed: bool = False
    languages: list[str] = Field(default_factory=list)
    exploitation_types: list[ExploitationType] = Field(default_factory=list)


@register
class OrganizationUpserted(Event):
    event_type: ClassVar[str] = "org.haven.directory.organization_upserted.v1"
    topic: ClassVar[topics.TopicSpec] = topics.DIRECTORY_ORGANIZATIONS

    organization_id: UUID
    name: str = Field(min_length=1, max_length=200)
    region: str = Field(min_length=1, max_length=64)
    active: bool = True
    public_keys: list[PublicKeyRef] = Field(default_factory=list)

    def key(self) -> str:
        return str(self.organization_id)


@register
class ServiceUpserted(Event):
    event_type: ClassVar[str] = "org.haven.directory.service_upserted.v1"
    topic: ClassVar[topics.TopicSpec] = topics.DIRECTORY_SERVICES

    service_id: UUID
    organization_id: UUID
    service_type: ServiceType
    region: str = Field(min_length=1, max_length=64)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    eligibility: Eligibility

    def key(self) -> str:
        return str(self.service_id)


@register
class CapacityUpdated(Event):
    event_type: ClassVar[str] = "org.haven.capacity.updated.v1"
    topic: ClassVar[topics.TopicSpec] = topics.CAPACITY_UPDATES

    service_id: UUID
    unit: str = Field(default="place", max_length=32)
    available: int = Field(ge=0)
    maximum: int = Field(ge=0)
    waitlist_length: int = Field(default=0, ge=0)
    confirmed_at: datetime

    def key(self) -> str:
        return str(self.service_id)
