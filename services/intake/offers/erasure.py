"""Erasure's consequences for offers as intake shows them: closed at once, with ids only.

Kept apart from `handlers.py` because the erasure itself (services/intake/handlers.py)
calls it, and that module must not import the offers feature's use cases.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Session, col, select

from services.intake.offers.models import Offer
from shared.events import ErasureApplied


def withdraw_for_erasure(session: Session, referral_id: uuid.UUID, now: datetime) -> int:
    """Erasure closes every offer of the referral still open here, in the erasure's own
    transaction: decided before the keys go, so no provider page says "waiting for an
    answer" about a person who no longer exists. Matching's ErasureApplied confirms it."""
    offers = session.exec(select(Offer).where(Offer.referral_id == referral_id,
                                              col(Offer.closed_at).is_(None))).all()
    for offer in offers:
        offer.status, offer.reason, offer.closed_at = "withdrawn", "erased", now
        session.add(offer)
    return len(offers)


def erasure_applied(session: Session, event: ErasureApplied) -> None:
    """Matching withdrew these offers on erasure; any still open here closes now."""
    for withdrawn in event.withdrawn:
        offer = session.get(Offer, withdrawn.offer_id)
        if offer is not None and offer.closed_at is None:
            offer.status, offer.reason, offer.closed_at = "withdrawn", "erased", event.applied_at
            session.add(offer)
