"""Offers to providers, their answers, how they ended, and notification outcomes."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared import topics
from shared.events.base import Event, register, register_upcaster
from shared.events.vocabulary import DeclineReason, PersonDeclineReason


@register
class OfferMade(Event):
    event_type: ClassVar[str] = "org.haven.referral.offer_made.v1"
    topic: ClassVar[topics.TopicSpec] = topics.REFERRAL_OFFERS

    offer_id: UUID
    referral_id: UUID
    organization_id: UUID
    service_id: UUID
    rank: int = Field(ge=1)
    expires_at: datetime
    explanation: list[str] = Field(default_factory=list, max_length=50)

    def key(self) -> str:
        return str(self.referral_id)


@register
class OfferAccepted(Event):
    event_type: ClassVar[str] = "org.haven.referral.offer_accepted.v1"
    topic: ClassVar[topics.TopicSpec] = topics.REFERRAL_RESPONSES

    offer_id: UUID
    referral_id: UUID
    organization_id: UUID
    answered_at: datetime

    def key(self) -> str:
        return str(self.referral_id)


@register
class OfferDeclined(Event):
    event_type: ClassVar[str] = "org.haven.referral.offer_declined.v1"
    topic: ClassVar[topics.TopicSpec] = topics.REFERRAL_RESPONSES

    offer_id: UUID
    referral_id: UUID
    organization_id: UUID
    reason: DeclineReason
    note: str = Field(default="", max_length=1000)
    answered_at: datetime

    def key(self) -> str:
        return str(self.referral_id)


@register
class PlacementChosen(Event):
    """Parallel mode: the person chose this accepted offer with their outreach worker."""

    event_type: ClassVar[str] = "org.haven.referral.placement_chosen.v1"
    topic: ClassVar[topics.TopicSpec] = topics.REFERRAL_RESPONSES

    offer_id: UUID
    referral_id: UUID
    chosen_at: datetime

    def key(self) -> str:
        return str(self.referral_id)


@register
class PlacementDeclined(Event):
    """The person said no to a place a provider had accepted; the place is released."""

    event_type: ClassVar[str] = "org.haven.referral.placement_declined.v1"
    topic: ClassVar[topics.TopicSpec] = topics.REFERRAL_RESPONSES

    offer_id: UUID
    referral_id: UUID
    reason: PersonDeclineReason
    declined_at: datetime

    def key(self) -> str:
        return str(self.referral_id)


@register
class OfferClosed(Event):
    """An offer ended: answered, expired, or withdrawn (consent, erasure, placed elsewhere)."""

    event_type: ClassVar[str] = "org.haven.referral.offer_closed.v1"
    topic: ClassVar[topics.TopicSpec] = topics.REFERRAL_OFFERS

    offer_id: UUID
    referral_id: UUID
    organization_id: UUID
    service_id: UUID
    outcome: Literal["accepted", "declined", "expired", "withdrawn"]
    reason: str = Field(default="", max_length=64, pattern=r"^[a-z0-9_]*$")
    closed_at: datetime

    def key(self) -> str:
        return str(self.referral_id)


class WithdrawnOffer(BaseModel):
    """An offer an erasure ended: ids only, so every reader can act on it without keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    offer_id: UUID
    organization_id: UUID
    service_id: UUID


@register
class ErasureApplied(Event):
    """Matching applied an erasure: the offers it withdrew and the holds it released.

    Signed, not sealed: it is decided after the referral's keys are gone, so a sealed
    OfferClosed would only be dead-lettered as `erased` by intake and the notifier (and
    sealing it would mint new grants for an erased referral). It carries what the broker
    already sees on every sealed offer (referral, organization and service ids), no more.
    """

    event_type: ClassVar[str] = "org.haven.referral.erasure_applied.v1"
    topic: ClassVar[topics.TopicSpec] = topics.REFERRAL_OFFERS

    referral_id: UUID
    withdrawn: list[WithdrawnOffer] = Field(default_factory=list, max_length=200)
    released_holds: int = Field(default=0, ge=0)
    applied_at: datetime

    def key(self) -> str:
        return str(self.referral_id)


@register
class NotificationDelivered(Event):
    """What became of one notification, and who it was for (v2: `audience`, so a timeline
    never calls a message to staff a message to the person)."""

    event_type: ClassVar[str] = "org.haven.notification.delivered.v2"
    topic: ClassVar[topics.TopicSpec] = topics.NOTIFICATION_DELIVERIES

    notification_id: str = Field(min_length=8, max_length=128)
    referral_id: UUID | None = None
    # "unknown" only for v1 records, written before the audience was told.
    audience: Literal["provider", "outreach", "survivor", "unknown"] = "unknown"
    channel: Literal["webhook", "email", "sms", "inbox"]
    outcome: Literal["delivered", "held", "cancelled", "failed"]
    at: datetime

    def key(self) -> str:
        return self.notification_id


register_upcaster("org.haven.notification.delivered.v1", NotificationDelivered.event_type,
                  lambda payload: {**payload, "audience": "unknown"})
