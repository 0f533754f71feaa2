"""Inbox messages from `notification.inbox` into intake's table, and out again on erasure.

Called by `read_models.apply` inside the projector's transaction, so the message
and the consumer's progress commit together; a redelivered event finds its
notification id already stored and changes nothing.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete
from sqlmodel import Session, col, select

from services.intake.inbox.models import InboxMessage
from services.intake.models import Referral
from shared.events import InboxMessagePosted


def posted(session: Session, event: InboxMessagePosted) -> bool:
    """Store the message; False when seen before or its referral was erased meanwhile."""
    if session.exec(select(InboxMessage.id).where(
            InboxMessage.notification_id == event.notification_id)).first() is not None:
        return False
    referral = session.get(Referral, event.referral_id)
    if referral is not None and referral.erased_at is not None:
        return False  # the notifier posted before it heard of the erasure: keep nothing
    session.add(InboxMessage(
        notification_id=event.notification_id, referral_id=event.referral_id,
        organization_id=event.organization_id, title=event.title, body=event.body,
        posted_at=event.posted_at))
    session.flush()  # a second copy in the same batch must find this one
    return True


def forget_referral(session: Session, referral_id: uuid.UUID) -> None:
    """Erasure: every organization's messages about the referral go."""
    session.connection().execute(
        delete(InboxMessage).where(col(InboxMessage.referral_id) == referral_id))
