"""The audit trail: one helper that records who did or saw what, in the caller's transaction.

GDPR asks for records of who accessed what. Every use case that changes or reveals
something about a referral, an offer, capacity or an account calls `audit` before
its caller commits, so the record and the change stand or fall together, and the API
and the pages record the same thing. Entries hold ids and codes only: they outlive an
erased referral because nothing in them identifies the person.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from services.intake.auth import Principal
from services.intake.models import AuditEntry


class Action(StrEnum):
    """What happened; short, stable codes that filters and reports rely on."""

    REFERRAL_VIEWED = "referral.viewed"
    REFERRAL_SUBMITTED = "referral.submitted"
    CONSENT_CHANGED = "consent.changed"
    REFERRAL_ERASED = "referral.erased"
    CONTACT_VIEWED = "contact.viewed"
    OFFER_ACCEPTED = "offer.accepted"
    OFFER_DECLINED = "offer.declined"
    PLACEMENT_CHOSEN = "placement.chosen"
    PLACEMENT_DECLINED = "placement.declined"
    CAPACITY_UPDATED = "capacity.updated"
    ORGANIZATION_CREATED = "admin.organization_created"
    USER_CREATED = "admin.user_created"
    USER_ROLE_CHANGED = "admin.user_role_changed"
    USER_DEACTIVATED = "admin.user_deactivated"
    PASSWORD_CHANGED = "account.password_changed"
    API_KEY_ISSUED = "admin.api_key_issued"
    API_KEY_REVOKED = "admin.api_key_revoked"
    SIGN_IN_SUCCEEDED = "sign_in.succeeded"
    SIGN_IN_FAILED = "sign_in.failed"
    SIGN_IN_LOCKED = "sign_in.locked"
    DEAD_LETTER_REPLAYED = "operator.dead_letter_replayed"


class Subject(StrEnum):
    """The kind of record an entry is about; its id is the record's opaque id."""

    REFERRAL = "referral"
    OFFER = "offer"
    SERVICE = "service"
    ORGANIZATION = "organization"
    USER = "user"
    API_KEY = "api_key"
    DEAD_LETTER = "dead_letter"  # id: uuid5 of its topic:partition:offset


def audit(session: Session, principal: Principal | None, action: Action,
          subject_type: Subject, subject_id: uuid.UUID | None, now: datetime) -> None:
    """Add one entry to the caller's transaction; `principal` is None for the system
    (retention) or for a sign-in attempt that proved no one."""
    session.add(AuditEntry(
        at=now, action=action.value, subject_type=subject_type.value, subject_id=subject_id,
        actor_id=principal.subject if principal else None,
        organization_id=principal.organization_id if principal else None,
        role=principal.role.value if principal else ""))


MAX_PAGE = 500


@dataclass(frozen=True)
class TrailQuery:
    """Which entries an admin asked for; every filter is optional."""

    action: Action | None = None
    organization_id: uuid.UUID | None = None
    subject_id: uuid.UUID | None = None
    since: datetime | None = None
    limit: int = 100
    offset: int = 0


def trail(session: Session, query: TrailQuery) -> list[AuditEntry]:
    """One page of the trail, newest first (same moment: last written first)."""
    statement = select(AuditEntry)
    if query.action is not None:
        statement = statement.where(AuditEntry.action == query.action.value)
    if query.organization_id is not None:
        statement = statement.where(AuditEntry.organization_id == query.organization_id)
    if query.subject_id is not None:
        statement = statement.where(AuditEntry.subject_id == query.subject_id)
    if query.since is not None:
        statement = statement.where(col(AuditEntry.at) >= query.since)
    statement = statement.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
    limit = max(1, min(query.limit, MAX_PAGE))
    return list(session.exec(statement.offset(max(0, query.offset)).limit(limit)).all())
