"""The directory's tables: where services are, who they take, and how much room is left.

Shaped after HSDS 3.x (organization → location, service, service_capacity) so the
import and export in `hsds.py` are a mapping, not a translation. Lists that are only
ever read whole (languages, areas, schedules, staff contacts) are JSON columns.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from services.intake.models import utcnow


class Location(SQLModel, table=True):
    """A place a service is delivered. Confidential ones (shelters) never leave their org."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    name: str = Field(max_length=200)
    region: str = Field(max_length=64)
    latitude: float
    longitude: float
    address_1: str = Field(default="", max_length=200)
    city: str = Field(default="", max_length=100)
    postal_code: str = Field(default="", max_length=20)
    country: str = Field(default="NL", max_length=2)
    confidential: bool = False
    updated_at: datetime = Field(default_factory=utcnow)


class Service(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    location_id: uuid.UUID = Field(foreign_key="location.id", index=True)
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    service_type: str = Field(max_length=64, index=True)
    active: bool = True
    eligibility: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON))
    service_areas: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    schedules: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON))
    contacts: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON))
    updated_at: datetime = Field(default_factory=utcnow)


class Capacity(SQLModel, table=True):
    """HSDS 3.1 service_capacity, plus holds, Haven's placements, waiting list and the last
    confirmation (the rules: `capacity_rules.py`).

    `version` grows by one with every change staff make; their updates are UPDATE
    statements guarded by it, so two staff members at once never overwrite each other
    unseen. Matching's counts (`held`, `pending`, `placements_through`) are written
    separately, guarded by `ledger_revision`, and never bump `version`.
    """

    service_id: uuid.UUID = Field(foreign_key="service.id", primary_key=True)
    unit: str = Field(default="place", max_length=32)
    available: int = Field(default=0, ge=0)
    maximum: int = Field(default=0, ge=0)
    held: int = Field(default=0, ge=0, description="places held by pending offers")
    counted_through: int = Field(default=0, ge=0,
                                 description="Haven placement number the figure counts to")
    pending: list[int] = Field(default_factory=list, sa_column=Column(
        JSON, nullable=False, server_default="[]"),
        description="numbers of Haven placements the ledger has not seen counted")
    placements_through: int = Field(default=0, ge=0, description="last placement number")
    ledger_revision: int = Field(default=0, ge=0, description="matching's counts applied")
    waitlist_length: int = Field(default=0, ge=0)
    updated_at: datetime = Field(default_factory=utcnow)
    confirmed_at: datetime = Field(default_factory=utcnow, index=True)
    confirmed_by: uuid.UUID | None = None
    version: int = 1
    reminded_at: datetime | None = Field(default=None, description="last stale reminder")
