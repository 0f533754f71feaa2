"""Offers as intake knows them: projected from matching's events, answered by provider staff."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from services.intake.models import utcnow


class Offer(SQLModel, table=True):
    """One place offered to one organization for one referral. Matching is the authority:
    a local answer is provisional until matching's OfferClosed confirms or overrides it."""

    id: uuid.UUID = Field(primary_key=True, description="matching's offer id")
    referral_id: uuid.UUID = Field(index=True)
    organization_id: uuid.UUID = Field(index=True)
    service_id: uuid.UUID = Field(index=True)
    rank: int
    explanation: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    status: str = Field(default="open", max_length=16, index=True)
    reason: str = Field(default="", max_length=64)
    expires_at: datetime
    made_at: datetime = Field(default_factory=utcnow)
    answered_at: datetime | None = None
    answered_by: uuid.UUID | None = None
    closed_at: datetime | None = None
