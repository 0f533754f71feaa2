"""Changing how and when the survivor may be contacted, while their consent stays as it is.

A grant of contact consent carries its terms (handlers.change_consent); this is
the other way terms change: the person keeps consenting but wants another
channel, number or hours. Intake records the change like any consent change and
publishes a fresh ContactTermsSet, which the notifier applies to every message
not yet sent.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Session

from services.intake import consent, handlers, terms_store
from services.intake.audit import Action, Subject, audit
from services.intake.auth import Principal
from services.intake.models import TimelineEntry
from services.intake.schemas import NewContactTerms

SCOPE = "contact_survivor"


def change_contact_terms(
    *, session: Session, ports: handlers.Ports, principal: Principal, referral_id: uuid.UUID,
    terms: NewContactTerms, now: datetime,
) -> None:
    """New channel, address or hours while contact consent stays as it is; the notifier
    uses them for every message not yet sent."""
    referral = handlers.own_referral(session, principal, referral_id)
    if referral.erased_at is not None:
        raise handlers.Conflict("This referral was erased; its consent can no longer change.")
    current = handlers.current_record(session, referral.id, SCOPE)
    expires_at = handlers.aware(current.expires_at) if current else None
    if current is None or not consent.allows(
            consent.ScopeDecision(SCOPE, current.granted, expires_at), now=now):
        raise handlers.Conflict(
            "The person has not agreed to be contacted, or that consent has ended. Record "
            f"their consent with these terms instead: POST /api/v1/referrals/{referral_id}"
            "/consent with scope contact_survivor, granted true, expires_at and terms.")
    resolved = terms_store.for_grant(session, ports.vault, referral, terms)
    handlers.record_decision(session, ports.vault, principal, referral, SCOPE, granted=True,
                             expires_at=expires_at, now=now, terms=resolved.without_address())
    terms_store.keep(session, ports.vault, referral, resolved)
    event_id = handlers.announce(session, ports, resolved.announcement(
        referral.id, expires_at=expires_at, now=now))
    session.add(TimelineEntry(event_id=event_id, referral_id=referral.id, at=now,
                              kind="consent:terms_changed", detail=SCOPE))
    audit(session, principal, Action.CONSENT_CHANGED, Subject.REFERRAL, referral.id, now)
