"""The inbox for the people of an organization: read it, count what is new, mark it read.

An organization sees its own messages and nobody else's; another organization's
message answers NotFound, the same as one that does not exist, so ids cannot be
probed. Messages carry no personal data, so reading them is not an audited access.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.intake.auth import Principal
from services.intake.handlers import NotFound
from services.intake.inbox.links import link
from services.intake.inbox.models import InboxMessage
from services.intake.models import Referral
from services.intake.offers.models import Offer

LIMIT = 200


@dataclass(frozen=True)
class Entry:
    """A message with where its reader may follow it (None: nowhere to go)."""

    message: InboxMessage
    link: str | None


def messages(*, session: Session, principal: Principal, unread_only: bool = False,
             limit: int = LIMIT) -> list[Entry]:
    """The organization's messages, newest first."""
    query = select(InboxMessage).where(InboxMessage.organization_id == principal.organization_id)
    if unread_only:
        query = query.where(col(InboxMessage.read_at).is_(None))
    rows = session.exec(query.order_by(col(InboxMessage.posted_at).desc(),
                                       col(InboxMessage.id)).limit(limit)).all()
    return [_entry(session, principal, row) for row in rows]


def unread_count(*, session: Session, organization_id: uuid.UUID) -> int:
    """How many of the organization's messages nobody there has read yet (for the menu)."""
    counted = session.exec(select(func.count()).select_from(InboxMessage).where(
        InboxMessage.organization_id == organization_id,
        col(InboxMessage.read_at).is_(None))).one()
    return int(counted)


def mark_read(*, session: Session, principal: Principal, message_id: uuid.UUID,
              now: datetime) -> Entry:
    """Mark an own message read; marking it again keeps the first time."""
    message = session.get(InboxMessage, message_id)
    if message is None or message.organization_id != principal.organization_id:
        raise NotFound("No message with this id is visible to your organization.")
    if message.read_at is None:
        message.read_at = now
        session.add(message)
    return _entry(session, principal, message)


def _entry(session: Session, principal: Principal, message: InboxMessage) -> Entry:
    referral = session.get(Referral, message.referral_id)
    own = (referral is not None and referral.erased_at is None
           and referral.organization_id == principal.organization_id)
    offer_id = session.exec(select(Offer.id).where(
        Offer.referral_id == message.referral_id,
        Offer.organization_id == principal.organization_id)
        .order_by(col(Offer.made_at).desc())).first()
    return Entry(message, link(principal.role, referral_id=message.referral_id,
                               own_referral=own, offer_id=offer_id))
