"""Intake's tables. Personal data is stored only as sealed bytes (see `vault.py`).

API shapes live in `schemas.py`; routes never return these table models.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    OUTREACH_WORKER = "outreach_worker"
    PROVIDER_STAFF = "provider_staff"
    NETWORK_ADMIN = "network_admin"


class OrganizationKind(StrEnum):
    OUTREACH = "outreach"
    PROVIDER = "provider"
    COORDINATOR = "coordinator"


class Organization(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    kind: OrganizationKind
    region: str = Field(max_length=64)
    description: str = Field(default="", max_length=2000)
    email: str = Field(default="", max_length=254, description="the organization's own address")
    website: str = Field(default="", max_length=500)
    active: bool = True
    # What the directory publishes so others can encrypt to and verify this organization.
    public_keys: list[dict[str, object]] = Field(default_factory=list, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    username: str = Field(max_length=120, unique=True, index=True)
    display_name: str = Field(max_length=200)
    role: Role
    password_hash: str
    totp_secret: str | None = None
    totp_pending: str | None = Field(default=None, description="enrolled, not yet confirmed")
    active: bool = True
    session_version: int = Field(default=0, description="raised to end every session at once")
    failed_sign_ins: int = Field(default=0, description="in a row; a success resets it")
    locked_until: datetime | None = Field(default=None, description="after failures in a row")
    created_at: datetime = Field(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    """A partner system's credential; only a hash of the secret is kept."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    name: str = Field(max_length=120)
    role: Role
    prefix: str = Field(max_length=16, unique=True, index=True)
    secret_hash: str
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class Referral(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    submitted_by: uuid.UUID = Field(description="user or API key id")
    status: str = Field(default="submitted", max_length=32, index=True)
    urgency: str = Field(max_length=32)
    sealed_profile: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sealed_contact: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    # The survivor's current contact terms with their address (consent.RecordedTerms);
    # None without contact consent. Kept to renew the consent without asking again.
    sealed_contact_terms: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    retention_until: datetime = Field(index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    erased_at: datetime | None = None


class IdempotencyRecord(SQLModel, table=True):
    """Makes a retried POST return the first answer instead of a second referral.

    `key` is a SHA-256 of the client's Idempotency-Key: that is free text a client
    chooses, so it is never stored as typed (handlers.idempotency_digest).
    """

    __table_args__ = (UniqueConstraint("organization_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    organization_id: uuid.UUID = Field(index=True)
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    referral_id: uuid.UUID
    created_at: datetime = Field(default_factory=utcnow)


class ConsentRecord(SQLModel, table=True):
    """One scope of a release: who gave it, to whom, for what, until when; never edited."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    referral_id: uuid.UUID = Field(foreign_key="referral.id", index=True)
    scope: str = Field(max_length=32)
    granted: bool
    purpose: str = Field(max_length=500)
    recipients: str = Field(max_length=500)
    expires_at: datetime | None = None
    given_at: datetime = Field(default_factory=utcnow)
    recorded_by: uuid.UUID = Field(description="user or API key id")
    revoked_at: datetime | None = None
    # The terms of the decision (cover story, channel, hours, ...), sealed by the vault for
    # this referral and record (consent_terms.py); None once the referral is erased.
    sealed_terms: bytes | None = Field(default=None, sa_column=Column(LargeBinary))


class OutboxMessage(SQLModel, table=True):
    """A Kafka record committed with the change it announces; the relay publishes it."""

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=64, unique=True)
    topic: str = Field(max_length=200)
    key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    headers: list[list[str]] = Field(default_factory=list, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = Field(default=None, index=True)
    attempts: int = 0


class TimelineEntry(SQLModel, table=True):
    """What happened to a referral, projected from events; the event id makes it idempotent."""

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=64, unique=True)
    referral_id: uuid.UUID = Field(index=True)
    at: datetime
    kind: str = Field(max_length=64)
    detail: str = Field(default="", max_length=500)


class AuditEntry(SQLModel, table=True):
    """Who did or saw what, when (GDPR access records): ids and codes only, never personal data.

    Written by `audit.audit` in the transaction of the change or read it describes.
    """

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor_id: uuid.UUID | None = Field(default=None, description="user or API key id")
    organization_id: uuid.UUID | None = Field(default=None, index=True)
    role: str = Field(default="", max_length=32, description="empty when nobody signed in")
    action: str = Field(max_length=64, index=True)
    subject_type: str = Field(max_length=32)
    subject_id: uuid.UUID | None = Field(default=None, index=True)
    # The tamper-evident chain (audit_chain.py); None until the chainer linked the entry.
    sequence: int | None = Field(default=None, unique=True)
    previous_hash: str | None = Field(default=None, max_length=64)
    entry_hash: str | None = Field(default=None, max_length=64)


class AuditChainHead(SQLModel, table=True):
    """The audit chain's last link (one row): a cut-off tail no longer reaches it."""

    id: int = Field(primary_key=True)
    sequence: int = 0
    last_hash: str = Field(max_length=64)
