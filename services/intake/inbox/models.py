"""The inbox table: only what the page shows, nothing about the person referred."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel


class InboxMessage(SQLModel, table=True):
    """One message for one organization. The notifier's templates de-identify title and
    body (codes, needs, urgency, the organization's own name; never contact details), and
    `notification_id` is unique, so a redelivered event cannot post the message twice.
    Read state is the organization's: anyone of it marking it read marks it for all."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    notification_id: str = Field(max_length=128, unique=True)
    referral_id: uuid.UUID = Field(index=True)
    organization_id: uuid.UUID = Field(index=True)
    title: str = Field(max_length=200)
    body: str = Field(max_length=4000)
    posted_at: datetime = Field(index=True)
    read_at: datetime | None = None
