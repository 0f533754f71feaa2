"""What the outreach and provider pages read: own organization only, newest first.

Read-only views over intake's tables; every change goes through the use cases in
handlers.py, offers/handlers.py and directory/handlers.py.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from services.intake import handlers
from services.intake.auth import Principal
from services.intake.directory import handlers as directory
from services.intake.directory.models import Capacity, Service
from services.intake.models import ConsentRecord, Organization, Referral, TimelineEntry
from services.intake.offers import handlers as offers
from services.intake.offers.models import Offer
from services.intake.vault import VaultError
from services.intake.watch import store as watch
from shared.events.vocabulary import PersonDeclineReason


@dataclass(frozen=True)
class OfferRow:
    """An offer with the names a person needs to read it."""

    offer: Offer
    organization: str
    service: str
    seconds_left: int


def referrals(session: Session, principal: Principal) -> list[Referral]:
    return list(session.exec(select(Referral)
                             .where(Referral.organization_id == principal.organization_id)
                             .order_by(col(Referral.created_at).desc()).limit(200)).all())


def statuses(session: Session, principal: Principal) -> dict[str, str]:
    """Every referral's status for the live list (ids are not personal data)."""
    return {str(r.id): r.status for r in referrals(session, principal)}


def offer_statuses(session: Session, principal: Principal) -> dict[str, str]:
    """Every offer's status for the live inbox, the same 200 the inbox shows."""
    rows = session.exec(select(Offer.id, Offer.status)
                        .where(Offer.organization_id == principal.organization_id)
                        .order_by(col(Offer.status) != "open", col(Offer.expires_at))
                        .limit(200)).all()
    return {str(offer_id): status for offer_id, status in rows}


def _offer_row(session: Session, offer: Offer, now: datetime) -> OfferRow:
    organization = session.get(Organization, offer.organization_id)
    service = session.get(Service, offer.service_id)
    left = int((offers.aware(offer.expires_at) - now).total_seconds())
    return OfferRow(offer, organization.name if organization else "",
                    service.name if service else "",
                    max(0, left) if offer.status == "open" else 0)


def referral_detail(session: Session, ports: handlers.Ports, principal: Principal,
                    referral_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """One own referral: timeline, offers, consent now, and what was entered."""
    referral = handlers.view_referral(session=session, principal=principal,
                                      referral_id=referral_id, now=now)
    # In the order intake learnt of them.
    timeline = session.exec(select(TimelineEntry).where(TimelineEntry.referral_id == referral.id)
                            .order_by(col(TimelineEntry.id))).all()
    made = session.exec(select(Offer).where(Offer.referral_id == referral.id)
                        .order_by(col(Offer.made_at))).all()
    consents = session.exec(select(ConsentRecord).where(
        ConsentRecord.referral_id == referral.id, col(ConsentRecord.revoked_at).is_(None))).all()
    return {
        "referral": referral, "timeline": timeline,
        "offers": [_offer_row(session, offer, now) for offer in made],
        "consents": {c.scope: bool(c.granted and (c.expires_at is None
                                                  or offers.aware(c.expires_at) > now))
                     for c in consents},
        "entered": _opened(session, ports, referral, "profile", referral.sealed_profile),
        "contact": _opened(session, ports, referral, "contact", referral.sealed_contact),
        "person_reasons": [reason.value for reason in PersonDeclineReason],
        "stuck": watch.open_alerts(session, vault=ports.vault, now=now, referral_id=referral.id),
    }


def _opened(session: Session, ports: handlers.Ports, referral: Referral, view: str,
            sealed: bytes | None) -> dict[str, Any] | None:
    if not sealed or referral.erased_at is not None:
        return None
    try:
        opened: dict[str, Any] = json.loads(ports.vault.open(session, referral.id, view, sealed))
    except VaultError:
        return None
    return opened


def inbox(session: Session, ports: handlers.Ports, principal: Principal,
          now: datetime) -> list[dict[str, Any]]:
    """Offers to the caller's organization, open ones first, soonest to expire on top."""
    rows = session.exec(select(Offer).where(Offer.organization_id == principal.organization_id)
                        .order_by(col(Offer.status) != "open", col(Offer.expires_at))
                        .limit(200)).all()
    return [{"row": _offer_row(session, offer, now),
             "summary": offers.summary(session, ports, offer, now),
             "contact": offers.contact(session, ports, offer, now, principal)}
            for offer in rows]


def own_services(session: Session, principal: Principal, now: datetime,
                 stale_after: timedelta) -> list[tuple[Service, Capacity, bool]]:
    """The organization's services with their capacity and whether it is stale."""
    services = session.exec(select(Service).where(
        Service.organization_id == principal.organization_id).order_by(Service.name)).all()
    found = []
    for service in services:
        capacity = session.get(Capacity, service.id)
        if capacity is not None:
            found.append((service, capacity,
                          directory.is_stale(capacity, now=now, stale_after=stale_after)))
    return found
