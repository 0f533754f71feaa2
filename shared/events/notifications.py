"""The notifier's contract: how a survivor may be contacted, retries, alerts and the inbox.

`ContactTermsSet` is the only event that carries a survivor's address; it is
sealed for the notifier and intake alone (shared/recipients.py), never for
matching or a provider. Retries are sealed for the notifier because the
rendered fields of a staff message include the de-identified offer summary.
Alerts carry ids and reason codes only, so they are signed, not sealed.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared import topics
from shared.events.base import Event, register

Channel = Literal["webhook", "email", "sms", "inbox"]
Audience = Literal["provider", "outreach", "survivor"]


@register
class ContactTermsSet(Event):
    """What the person agreed to: channel, address, safe hours, language and wording."""

    event_type: ClassVar[str] = "org.haven.consent.contact_terms_set.v1"
    topic: ClassVar[topics.TopicSpec] = topics.CONTACT_TERMS

    referral_id: UUID
    channel: Literal["sms", "email", "phone_call"]
    address: str = Field(min_length=3, max_length=254)
    hours_start: time
    hours_end: time
    timezone: str = Field(min_length=1, max_length=64)
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}$")
    voicemail_safe: bool = False
    may_name_organization: bool = False
    cover_story: str | None = Field(default=None, max_length=200)
    expires_at: datetime | None = None
    set_at: datetime

    def key(self) -> str:
        return str(self.referral_id)


class PlannedNotification(BaseModel):
    """A notification as the notifier planned it: ids, codes and template fields only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    notification_id: str = Field(min_length=8, max_length=128)
    cause_id: str = Field(max_length=128)
    referral_id: UUID | None = None  # None: about no referral (a capacity reminder)
    audience: Audience
    recipient: str = Field(max_length=128)
    channel: Channel
    template: str = Field(pattern=r"^[a-z_]{1,64}$")
    language: str = Field(pattern=r"^[a-z]{2,3}$")
    fields: dict[str, str] = Field(default_factory=dict)
    not_before: datetime


@register
class NotificationRetryScheduled(Event):
    """Try this notification again, not before `due_at` (after a transient failure)."""

    event_type: ClassVar[str] = "org.haven.notification.retry_scheduled.v1"
    topic: ClassVar[topics.TopicSpec] = topics.NOTIFICATION_RETRY_TIERS[0]

    referral_id: UUID
    notification: PlannedNotification
    attempt: int = Field(ge=1, le=100)  # the attempt that failed
    due_at: datetime

    def key(self) -> str:
        return str(self.referral_id)

    def destination(self) -> topics.TopicSpec:
        """One retry topic per attempt, so records on a topic all wait the same backoff."""
        tiers = topics.NOTIFICATION_RETRY_TIERS
        return tiers[min(self.attempt, len(tiers)) - 1]


@register
class NotificationAlertRaised(Event):
    """An admin must look: a delivery failed for good, or a crash left it in doubt."""

    event_type: ClassVar[str] = "org.haven.notification.alert_raised.v1"
    topic: ClassVar[topics.TopicSpec] = topics.NOTIFICATION_ALERTS

    notification_id: str = Field(min_length=8, max_length=128)
    referral_id: UUID | None = None
    channel: Channel
    reason: str = Field(max_length=64, pattern=r"^[a-z0-9_]+$")
    attempts: int = Field(ge=0)
    at: datetime

    def key(self) -> str:
        return self.notification_id


@register
class InboxMessagePosted(Event):
    """A message for an organization's in-app inbox (staff or outreach), shown by intake."""

    event_type: ClassVar[str] = "org.haven.notification.inbox_posted.v1"
    topic: ClassVar[topics.TopicSpec] = topics.NOTIFICATION_INBOX

    notification_id: str = Field(min_length=8, max_length=128)
    referral_id: UUID
    organization_id: UUID
    title: str = Field(max_length=200)
    body: str = Field(max_length=4000)
    posted_at: datetime

    def key(self) -> str:
        return str(self.referral_id)
