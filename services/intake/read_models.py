"""Read models projected from events (the referral timeline, offers, the inbox, matching's
counts of each service's places); applying the same event twice changes nothing."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from services.intake.directory.handlers import record_counts
from services.intake.inbox import projection as inbox
from services.intake.models import Referral, TimelineEntry
from services.intake.offers import erasure as offer_erasure
from services.intake.offers import handlers as offers
from services.intake.watch import store as watch
from shared.events import (
    CapacityCounted,
    ErasureApplied,
    InboxMessagePosted,
    NotificationDelivered,
    OfferClosed,
    OfferMade,
    ReferralStalled,
    ReferralStatusChanged,
)
from shared.records import Envelope

EXCLUDED_BY = "gap:excluded_by"


def describe(envelope: Envelope) -> tuple[str, str, datetime] | None:
    """(kind, detail, when) for the timeline, or None for events the timeline ignores.

    An offer is stamped with the moment matching made it (the event's CloudEvents time),
    not its expiry: the timeline tells what happened when.
    """
    event = envelope.event
    if isinstance(event, ReferralStatusChanged):
        return f"status:{event.status.value}", event.reason, event.changed_at
    if isinstance(event, OfferMade):
        return "offered", f"offer {event.offer_id} ranked {event.rank}", \
            envelope.attributes.time
    if isinstance(event, OfferClosed):
        return f"offer:{event.outcome}", event.reason or str(event.offer_id), event.closed_at
    if isinstance(event, ErasureApplied):
        return "erasure:applied", (f"matching withdrew {len(event.withdrawn)} offer(s) and "
                                   f"released {event.released_holds} hold(s)"), event.applied_at
    if isinstance(event, ReferralStalled):
        return f"alert:stalled:{event.status.value}", f"since {event.since:%Y-%m-%d %H:%M}", \
            event.alerted_at
    if isinstance(event, NotificationDelivered):
        return f"notification:{event.audience}:{event.outcome}", event.channel, event.at
    return None


def apply(session: Session, envelope: Envelope) -> bool:
    """Record the event in its referral's timeline (or the inbox); False if seen before or
    not ours."""
    if isinstance(envelope.event, InboxMessagePosted):
        return inbox.posted(session, envelope.event)  # idempotent on the notification id
    if isinstance(envelope.event, CapacityCounted):
        return record_counts(session, envelope.event)  # idempotent on the ledger's revision
    described = describe(envelope)
    referral_id = getattr(envelope.event, "referral_id", None)
    if described is None or referral_id is None:
        return False
    if session.exec(select(TimelineEntry).where(
            TimelineEntry.event_id == envelope.attributes.id)).first() is not None:
        return False
    kind, detail, at = described
    session.add(TimelineEntry(event_id=envelope.attributes.id, referral_id=referral_id,
                              at=at, kind=kind, detail=detail))
    if isinstance(envelope.event, ReferralStatusChanged) and envelope.event.excluded_by:
        session.add(TimelineEntry(  # why nothing fit: the gap analytics count these
            event_id=f"{envelope.attributes.id}/excluded", referral_id=referral_id, at=at,
            kind=EXCLUDED_BY, detail=envelope.event.excluded_by))
    if isinstance(envelope.event, NotificationDelivered):
        watch.outcome_reported(session, envelope.event)
    if isinstance(envelope.event, OfferMade):
        offers.offer_made(session, envelope.event)
    elif isinstance(envelope.event, OfferClosed):
        offers.offer_closed(session, envelope.event)
    elif isinstance(envelope.event, ErasureApplied):
        offer_erasure.erasure_applied(session, envelope.event)
    referral = session.get(Referral, referral_id)
    if isinstance(envelope.event, ReferralStatusChanged) and referral is not None:
        if referral.erased_at is None:
            referral.status = envelope.event.status.value
            referral.updated_at = envelope.event.changed_at
            session.add(referral)
    return True
