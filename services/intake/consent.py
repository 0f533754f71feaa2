"""Pure consent rules: what a release must contain, and whether a scope allows sharing now."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time

from pydantic import BaseModel, ConfigDict, Field

from services.intake.schemas import (
    Consent,
    Contact,
    ContactAddress,
    ContactTerms,
    ScopeConsent,
    SurvivorChannel,
)
from shared.events import ContactTermsSet

PURPOSES = {
    "share_profile": "find a provider that can help: needs and eligibility, without identity",
    "share_contact": "let the provider that accepted contact the person",
    "contact_survivor": "tell the person about offers, on the channel and at the times chosen",
}
RECIPIENTS = {
    "share_profile": "providers Haven matches the referral with",
    "share_contact": "only the provider that accepts the referral",
    "contact_survivor": "Haven's notifier, on behalf of the referring outreach team",
}


class ConsentProblem(ValueError):
    """A release that cannot be recorded as given; `field` says where, message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ScopeDecision:
    scope: str
    granted: bool
    expires_at: datetime | None


CHANNEL_ADDRESS = {"sms": "phone", "phone_call": "phone", "email": "email"}


def check_release(
    consent: Consent, *, now: datetime, contact: Contact | None = None
) -> list[ScopeDecision]:
    """Validate a release as a whole; raise ConsentProblem naming the first gap."""
    decisions = []
    for scope in PURPOSES:
        given: ScopeConsent = getattr(consent, scope)
        if given.granted:
            _check_granted(scope, given, now=now)
            if not consent.explained_right_to_revoke:
                raise ConsentProblem("consent.explained_right_to_revoke",
                                     "consent counts only when the person was told they can "
                                     "withdraw it; confirm that you explained this")
        decisions.append(ScopeDecision(scope, given.granted, given.expires_at))
    if consent.contact_survivor.granted:
        resolve_terms(consent.contact_survivor, contact, at="consent.contact_survivor",
                      address_at="contact")
    return decisions


class RecordedTerms(BaseModel):
    """Terms complete enough to contact someone: channel, address and safe hours resolved.

    Holds the address, so intake keeps it only sealed (terms_store.py) and publishes
    it only inside a ContactTermsSet sealed for the notifier and intake.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: SurvivorChannel
    address: str = Field(min_length=3, max_length=254)
    hours_start: time
    hours_end: time
    timezone: str
    language: str = "en"
    voicemail_safe: bool = False
    may_name_organization: bool = False
    cover_story: str | None = None

    def announcement(self, referral_id: uuid.UUID, *, expires_at: datetime | None,
                     now: datetime) -> ContactTermsSet:
        """The event that tells the notifier; `set_at` orders it against earlier terms."""
        return ContactTermsSet(referral_id=referral_id, expires_at=expires_at, set_at=now,
                               **self.model_dump())

    def without_address(self) -> dict[str, object]:
        """What a consent record may show in the clear: everything but where to write."""
        return self.model_dump(mode="json", exclude={"address"})


def resolve_terms(terms: ContactTerms, *contacts: Contact | ContactAddress | None, at: str,
                  address_at: str) -> RecordedTerms:
    """Complete terms, the address taken from the first contact that has one for the channel;
    ConsentProblem naming what to give when something is missing."""
    if terms.channel is None or terms.hours is None:
        raise ConsentProblem(at, "to contact the person, say which channel and which hours "
                                 "are safe (channel, and hours with start, end and timezone)")
    needed = CHANNEL_ADDRESS[terms.channel]
    address = next((getattr(c, needed) for c in contacts
                    if c is not None and getattr(c, needed) is not None), None)
    if address is None:
        raise ConsentProblem(f"{address_at}.{needed}",
                             f"to reach the person by {terms.channel.replace('_', ' ')}, "
                             f"give their {needed} under {address_at}")
    return RecordedTerms(
        channel=terms.channel, address=address, hours_start=terms.hours.start,
        hours_end=terms.hours.end, timezone=terms.hours.timezone,
        language=terms.language or "en", voicemail_safe=terms.voicemail_safe,
        may_name_organization=terms.may_name_organization, cover_story=terms.cover_story)


def check_grant(scope: str, given: ScopeConsent, *, now: datetime) -> None:
    """One scope granted later on its own: time-limited, with a zoned date in the future."""
    _check_granted(scope, given, now=now)


def _check_granted(scope: str, given: ScopeConsent, *, now: datetime) -> None:
    if given.expires_at is None:
        raise ConsentProblem(f"consent.{scope}.expires_at",
                             "consent must be time-limited: give the date it ends")
    if given.expires_at.tzinfo is None:
        raise ConsentProblem(f"consent.{scope}.expires_at",
                             "give the end date with a time zone, e.g. 2027-01-31T23:59:00Z")
    if given.expires_at <= now:
        raise ConsentProblem(f"consent.{scope}.expires_at", "this date is already in the past")


def allows(decision: ScopeDecision | None, *, now: datetime) -> bool:
    """Is sharing under this scope allowed at this moment? Expired counts as withdrawn."""
    if decision is None or not decision.granted:
        return False
    return decision.expires_at is None or decision.expires_at > now
