"""The notifier's words: who may be told, where, under which consent, and stable ids.

Pure data, no I/O. A survivor's address is deliberately absent: the domain decides
*whether* and *when* to write; the address is opened from its sealed event only
by the adapter that sends, at the moment it sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Literal

# The ids are shared with intake, which watches that a survivor's message was reported.
from shared.notification_ids import notification_id as notification_id
from shared.notification_ids import survivor_recipient as survivor_recipient

Channel = Literal["webhook", "email", "sms", "inbox"]
SurvivorChannel = Literal["sms", "email", "phone_call"]
LANGUAGES = ("en", "nl", "es")


@dataclass(frozen=True)
class Endpoints:
    """How an organization wants to hear from Haven (from the subscriptions file)."""

    organization_id: str
    name: str
    language: str = "en"
    email: str | None = None
    webhook_url: str | None = None
    inbox: bool = True

    def channels(self) -> list[Channel]:
        """Every channel the organization subscribed, in a fixed order."""
        chosen: list[Channel] = []
        if self.webhook_url:
            chosen.append("webhook")
        if self.email:
            chosen.append("email")
        if self.inbox:
            chosen.append("inbox")
        return chosen


@dataclass(frozen=True)
class ContactHours:
    """When contact is safe, as local wall-clock times in the person's time zone."""

    start: time
    end: time
    timezone: str


@dataclass(frozen=True)
class SurvivorTerms:
    """The how of contact consent (channel, hours, language, wording), without the address."""

    channel: SurvivorChannel
    hours: ContactHours
    language: str = "en"
    voicemail_safe: bool = False
    may_name_organization: bool = False
    cover_story: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class SurvivorConsent:
    """The latest contact-survivor decision and its terms; absent means no."""

    granted: bool = False
    expires_at: datetime | None = None
    terms: SurvivorTerms | None = None

    def allows_contact(self, now: datetime) -> bool:
        """Granted, not expired (neither the grant nor the terms), and we know how."""
        if not self.granted or self.terms is None:
            return False
        ends = [t for t in (self.expires_at, self.terms.expires_at) if t is not None]
        return all(now < t for t in ends)

    def with_decision(self, granted: bool, expires_at: datetime | None) -> SurvivorConsent:
        """A revocation forgets the terms: a new grant must come with terms again."""
        if not granted:
            return SurvivorConsent()
        return replace(self, granted=True, expires_at=expires_at)

    def with_terms(self, terms: SurvivorTerms) -> SurvivorConsent:
        return replace(self, terms=terms)


@dataclass(frozen=True)
class ReferralFacts:
    """What the notifier remembers of a referral: who referred it and its de-identified need."""

    referral_id: str
    outreach_organization_id: str
    urgency: str
    needs: tuple[str, ...] = field(default_factory=tuple)
