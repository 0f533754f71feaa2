"""What the notifier reported about each notification (ids and codes only, no words)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel


class NotificationOutcome(SQLModel, table=True):
    """The newest outcome the notifier announced for one notification (delivered, held,
    cancelled or failed): intake watches that the survivor's message about a placement
    was reported. The notification id is the notifier's, derived from its cause
    (shared/notification_ids.py), so intake can find the one it expects."""

    notification_id: str = Field(primary_key=True, max_length=128)
    referral_id: uuid.UUID = Field(index=True)
    channel: str = Field(max_length=16)
    outcome: str = Field(max_length=16)
    at: datetime
