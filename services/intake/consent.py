"""Pure consent rules: what a release must contain, and whether a scope allows sharing now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.intake.schemas import Consent, Contact, ScopeConsent

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
    survivor = consent.contact_survivor
    if survivor.granted and (survivor.channel is None or survivor.hours is None):
        raise ConsentProblem("consent.contact_survivor",
                             "to contact the person, say which channel and which hours are safe")
    if survivor.granted and survivor.channel is not None:
        needed = CHANNEL_ADDRESS[survivor.channel]
        if contact is None or getattr(contact, needed) is None:
            raise ConsentProblem(f"contact.{needed}",
                                 f"to reach the person by {survivor.channel.replace('_', ' ')}, "
                                 f"give their {needed} under contact")
    return decisions


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
