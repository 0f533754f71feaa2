"""Events about one referral, keyed and ordered by the referral id."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared import topics
from shared.events.base import Event, register
from shared.events.vocabulary import (
    Accessibility,
    ConsentScope,
    ExploitationType,
    GenderIdentity,
    ImmigrationStatus,
    ReferralStatus,
    ServiceType,
    Urgency,
)


class MatchingProfile(BaseModel):
    """Needs and eligibility facts without identity: all that matching may see."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    needs: list[ServiceType] = Field(min_length=1)
    urgency: Urgency
    age_min: int = Field(ge=0, le=120)
    age_max: int = Field(ge=0, le=120)
    gender_identity: GenderIdentity = GenderIdentity.NOT_SAID
    languages: list[str] = Field(default_factory=list, max_length=10)
    dependents: int = Field(default=0, ge=0, le=20)
    exploitation_types: list[ExploitationType] = Field(default_factory=list)
    region: str = Field(min_length=1, max_length=64)
    max_distance_km: int | None = Field(default=None, ge=1, le=5000)
    # Coarse (about 10 km) on purpose: enough to measure distance, never an address.
    approximate_latitude: float | None = Field(default=None, ge=-90, le=90)
    approximate_longitude: float | None = Field(default=None, ge=-180, le=180)
    avoid_regions: list[str] = Field(default_factory=list, max_length=20)
    accepts_waitlist: bool = True
    immigration_status: ImmigrationStatus = ImmigrationStatus.UNKNOWN
    substance_use: bool = False
    pets: bool = False
    accessibility: list[Accessibility] = Field(default_factory=list, max_length=4)


class ContactDetails(BaseModel):
    """Identity and contact: only for the provider that accepted, only with consent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    display_name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    notes: str | None = Field(default=None, max_length=4000)


class ConsentGrant(BaseModel):
    """One consent scope as recorded at intake; no personal data, just the decision."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scope: ConsentScope
    granted: bool
    expires_at: datetime | None = None


@register
class ReferralSubmitted(Event):
    event_type: ClassVar[str] = "org.haven.referral.submitted.v1"
    topic: ClassVar[topics.TopicSpec] = topics.REFERRAL_SUBMITTED

    referral_id: UUID
    outreach_organization_id: UUID
    submitted_at: datetime
    profile: MatchingProfile
    contact: ContactDetails | None = None
    consents: list[ConsentGrant] = Field(default_factory=list)

    def key(self) -> str:
        return str(self.referral_id)


@register
class ReferralStatusChanged(Event):
    event_type: ClassVar[str] = "org.haven.referral.status_changed.v1"
    topic: ClassVar[topics.TopicSpec] = topics.REFERRAL_STATUS

    referral_id: UUID
    status: ReferralStatus
    reason: str = Field(default="", max_length=64, pattern=r"^[a-z0-9_]*$")
    changed_at: datetime
    # Waitlisted or returned: the hard rule that excluded the most services of the needed
    # types, so the network can see which rule leaves people without a place.
    excluded_by: str = Field(default="", max_length=64, pattern=r"^[a-z0-9_]*$")

    def key(self) -> str:
        return str(self.referral_id)


@register
class ReferralStalled(Event):
    """A referral stayed in one state longer than the network allows: an alert for its
    outreach worker and the admins (one per stay)."""

    event_type: ClassVar[str] = "org.haven.referral.stalled.v1"
    topic: ClassVar[topics.TopicSpec] = topics.REFERRAL_STATUS

    referral_id: UUID
    status: ReferralStatus
    since: datetime
    alerted_at: datetime

    def key(self) -> str:
        return str(self.referral_id)


@register
class ConsentChanged(Event):
    event_type: ClassVar[str] = "org.haven.consent.changed.v1"
    topic: ClassVar[topics.TopicSpec] = topics.CONSENT_CHANGES

    referral_id: UUID
    grant: ConsentGrant
    changed_at: datetime

    def key(self) -> str:
        return str(self.referral_id)


@register
class ReferralErased(Event):
    """Erasure requested or retention ended: every service drops what it holds on this referral."""

    event_type: ClassVar[str] = "org.haven.referral.erased.v1"
    topic: ClassVar[topics.TopicSpec] = topics.CONSENT_CHANGES

    referral_id: UUID
    reason: str = Field(max_length=64, pattern=r"^[a-z0-9_]+$")
    erased_at: datetime

    def key(self) -> str:
        return str(self.referral_id)
