"""Offers for provider staff: what they may see, and their answer, checked and announced.

The summary is de-identified (needs, urgency, age band, gender identity, languages,
children, exploitation types) and only shown while the person's consent to share
their profile holds; contact details only after the provider accepted and only with
consent to share contact. An answer is checked here (own organization, still open,
not expired) and announced through the outbox; matching decides what it means.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from services.intake.audit import Action, Subject, audit
from services.intake.auth import Principal
from services.intake.handlers import Conflict, NotFound, Ports, announce, own_referral
from services.intake.models import ConsentRecord, Referral, TimelineEntry
from services.intake.offers.models import Offer
from shared.events import (
    OfferAccepted,
    OfferClosed,
    OfferDeclined,
    OfferMade,
    PlacementChosen,
    PlacementDeclined,
)
from shared.events.vocabulary import ConsentScope, DeclineReason, PersonDeclineReason

CLOSED_WORDS = {"accepted": "was accepted", "declined": "was declined",
                "expired": "expired", "withdrawn": "was withdrawn"}


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- projection from matching's events (called by read_models.apply) ------------------

def offer_made(session: Session, event: OfferMade) -> None:
    if session.get(Offer, event.offer_id) is not None:
        return
    session.add(Offer(id=event.offer_id, referral_id=event.referral_id,
                      organization_id=event.organization_id, service_id=event.service_id,
                      rank=event.rank, explanation=event.explanation,
                      expires_at=event.expires_at))


def offer_closed(session: Session, event: OfferClosed) -> None:
    """Matching's word is final: it may turn a provisional local answer into 'expired'."""
    offer = session.get(Offer, event.offer_id)
    if offer is None:
        return
    offer.status, offer.reason, offer.closed_at = event.outcome, event.reason, event.closed_at
    session.add(offer)


# --- what staff see -----------------------------------------------------------------------

def consent_holds(session: Session, referral_id: uuid.UUID, scope: ConsentScope,
                  now: datetime) -> bool:
    records = session.exec(select(ConsentRecord).where(
        ConsentRecord.referral_id == referral_id, ConsentRecord.scope == scope.value,
        col(ConsentRecord.revoked_at).is_(None))).all()
    return any(r.granted and (r.expires_at is None or aware(r.expires_at) > now)
               for r in records)


def summary(session: Session, ports: Ports, offer: Offer, now: datetime) -> dict[str, Any]:
    """The de-identified facts a provider needs to decide; nothing while consent is gone."""
    referral = session.get(Referral, offer.referral_id)
    if (referral is None or referral.erased_at is not None
            or not consent_holds(session, offer.referral_id, ConsentScope.SHARE_PROFILE, now)):
        return {}
    request = json.loads(ports.vault.open(session, referral.id, "profile",
                                          referral.sealed_profile))
    facts = request["eligibility"]
    age = facts.get("age")
    band = facts.get("age_range") or {"min": age, "max": age}
    return {
        "needs": request["needs"], "urgency": request["urgency"],
        "age_band": f"{band['min']}–{band['max']}" if band["min"] != band["max"]
        else _band(band["min"]),
        "gender_identity": facts.get("gender_identity"), "languages": facts.get("languages"),
        "children": facts.get("dependents", 0),
        "exploitation_types": facts.get("exploitation_types", []),
        "region": request["location"]["region"],
    }


def _band(age: int) -> str:
    """An exact age is shown as a five-year band: enough to decide, less to identify."""
    low = age // 5 * 5
    return f"{low}–{low + 4}"


def contact(session: Session, ports: Ports, offer: Offer, now: datetime,
            principal: Principal) -> dict[str, Any] | None:
    """Contact details for the provider that accepted, once matching confirmed the placement
    (in parallel mode only the provider the person chose), only while consent allows it;
    each time they are shown is an access on record."""
    referral = session.get(Referral, offer.referral_id)
    if (offer.status != "accepted" or offer.closed_at is None or referral is None
            or referral.sealed_contact is None
            or not consent_holds(session, offer.referral_id, ConsentScope.SHARE_CONTACT, now)):
        return None
    data: dict[str, Any] = json.loads(ports.vault.open(session, referral.id, "contact",
                                                       referral.sealed_contact))
    audit(session, principal, Action.CONTACT_VIEWED, Subject.REFERRAL, referral.id, now)
    return data


def own_offer(session: Session, principal: Principal, offer_id: uuid.UUID) -> Offer:
    offer = session.get(Offer, offer_id)
    if offer is None or offer.organization_id != principal.organization_id:
        raise NotFound("No offer with this id was made to your organization.")
    return offer


# --- answers ------------------------------------------------------------------------------

def answer(*, session: Session, ports: Ports, principal: Principal, offer_id: uuid.UUID,
           accept: bool, now: datetime, reason: DeclineReason | None = None,
           note: str = "") -> Offer:
    """Accept or decline an open offer of the caller's organization; 409 when too late."""
    offer = own_offer(session, principal, offer_id)
    if offer.reason == "erased":
        raise Conflict("This offer was withdrawn: the person's data were erased at their "
                       "request or at the end of retention, so there is no one to place. "
                       "Your answer was not recorded; the place is free again.")
    if offer.status != "open":
        raise Conflict(f"This offer {CLOSED_WORDS.get(offer.status, 'is closed')} already; "
                       "your answer was not recorded.")
    if aware(offer.expires_at) <= now:
        raise Conflict(f"This offer expired at {aware(offer.expires_at):%Y-%m-%d %H:%M} UTC; "
                       "your answer was not recorded. The person has been offered elsewhere.")
    offer.status = "accepted" if accept else "declined"
    offer.reason = "" if accept else (reason or DeclineReason.OTHER).value
    offer.answered_at, offer.answered_by = now, principal.subject
    session.add(offer)
    if accept:
        event_id = announce(session, ports, OfferAccepted(
            offer_id=offer.id, referral_id=offer.referral_id,
            organization_id=offer.organization_id, answered_at=now))
    else:
        event_id = announce(session, ports, OfferDeclined(
            offer_id=offer.id, referral_id=offer.referral_id,
            organization_id=offer.organization_id, reason=reason or DeclineReason.OTHER,
            note=note, answered_at=now))
    session.add(TimelineEntry(event_id=event_id, referral_id=offer.referral_id, at=now,
                              kind=f"offer:{offer.status}", detail=offer.reason))
    audit(session, principal, Action.OFFER_ACCEPTED if accept else Action.OFFER_DECLINED,
          Subject.OFFER, offer.id, now)
    return offer


# --- the person's say, through their outreach worker ----------------------------------------

def _accepted_offer(session: Session, principal: Principal, referral_id: uuid.UUID,
                    offer_id: uuid.UUID) -> Offer:
    referral = own_referral(session, principal, referral_id)
    offer = session.get(Offer, offer_id)
    if offer is None or offer.referral_id != referral.id:
        raise NotFound("This referral has no offer with that id.")
    if offer.status != "accepted":
        raise Conflict("This provider has not accepted (or the offer has ended), so there is "
                       "nothing to choose or decline; refresh the referral to see its offers.")
    return offer


def choose(*, session: Session, ports: Ports, principal: Principal, referral_id: uuid.UUID,
           offer_id: uuid.UUID, now: datetime) -> Offer:
    """The person picked one of the providers that accepted; matching releases the others."""
    offer = _accepted_offer(session, principal, referral_id, offer_id)
    referral = session.get(Referral, referral_id)
    if referral is None or referral.status != "accepted" or offer.closed_at is not None:
        raise Conflict("This referral is not waiting for a choice (it may be placed already, "
                       "or the time to choose has passed); refresh to see where it stands.")
    event_id = announce(session, ports, PlacementChosen(
        offer_id=offer.id, referral_id=offer.referral_id, chosen_at=now))
    session.add(TimelineEntry(event_id=event_id, referral_id=offer.referral_id, at=now,
                              kind="person:chose", detail=str(offer.id)))
    audit(session, principal, Action.PLACEMENT_CHOSEN, Subject.OFFER, offer.id, now)
    return offer


def person_declines(*, session: Session, ports: Ports, principal: Principal,
                    referral_id: uuid.UUID, offer_id: uuid.UUID, reason: PersonDeclineReason,
                    now: datetime) -> Offer:
    """The person said no to an accepted place: it is released and the provider is told."""
    offer = _accepted_offer(session, principal, referral_id, offer_id)
    offer.status, offer.reason = "withdrawn", "person_declined"
    session.add(offer)
    event_id = announce(session, ports, PlacementDeclined(
        offer_id=offer.id, referral_id=offer.referral_id, reason=reason, declined_at=now))
    session.add(TimelineEntry(event_id=event_id, referral_id=offer.referral_id, at=now,
                              kind="person:declined", detail=reason.value))
    audit(session, principal, Action.PLACEMENT_DECLINED, Subject.OFFER, offer.id, now)
    return offer
