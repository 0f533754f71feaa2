"""Provider staff answer offers: see what is open for their organization, accept or decline."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from services.intake.api.deps import NowDep, PortsDep, ProviderStaff, SessionDep
from services.intake.auth import Principal
from services.intake.offers import handlers
from services.intake.offers.models import Offer
from shared.events.vocabulary import DeclineReason

router = APIRouter(prefix="/api/v1/offers", tags=["offers"])


class OfferOut(BaseModel):
    id: uuid.UUID
    referral_id: uuid.UUID
    service_id: uuid.UUID
    status: str
    reason: str
    rank: int
    expires_at: datetime
    seconds_left: int
    explanation: list[str] = Field(description="why this provider: rules met, what counted")
    summary: dict[str, Any] = Field(description="de-identified; empty without consent")
    contact: dict[str, Any] | None = Field(
        default=None, description="only after you accepted, only with the person's consent")


class Decline(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: DeclineReason
    note: str = Field(default="", max_length=1000,
                      description="optional; helps matching improve (never shown to the person)")


def _out(offer: Offer, session: SessionDep, ports: PortsDep, now: datetime,
         caller: Principal) -> OfferOut:
    left = int((handlers.aware(offer.expires_at) - now).total_seconds())
    return OfferOut(
        id=offer.id, referral_id=offer.referral_id, service_id=offer.service_id,
        status=offer.status, reason=offer.reason, rank=offer.rank,
        expires_at=offer.expires_at, seconds_left=max(0, left) if offer.status == "open" else 0,
        explanation=offer.explanation, summary=handlers.summary(session, ports, offer, now),
        contact=handlers.contact(session, ports, offer, now, caller))


@router.get("")
def list_offers(
    session: SessionDep, ports: PortsDep, caller: ProviderStaff, now: NowDep,
    status: Annotated[Literal["open", "accepted", "declined", "expired", "withdrawn"] | None,
                      Query()] = None,
) -> list[OfferOut]:
    """Offers made to your organization, open ones first (soonest to expire on top)."""
    query = select(Offer).where(Offer.organization_id == caller.organization_id)
    if status is not None:
        query = query.where(Offer.status == status)
    rows = session.exec(query.order_by(col(Offer.status) != "open",
                                       col(Offer.expires_at)).limit(500)).all()
    answer = [_out(row, session, ports, now, caller) for row in rows]
    session.commit()  # contact details shown are on record
    return answer


@router.get("/{offer_id}")
def read_offer(offer_id: uuid.UUID, session: SessionDep, ports: PortsDep,
               caller: ProviderStaff, now: NowDep) -> OfferOut:
    answer = _out(handlers.own_offer(session, caller, offer_id), session, ports, now, caller)
    session.commit()  # contact details shown are on record
    return answer


@router.post("/{offer_id}/accept")
def accept(offer_id: uuid.UUID, session: SessionDep, ports: PortsDep, caller: ProviderStaff,
           now: NowDep) -> OfferOut:
    """Take the person: matching confirms and releases the other places held for them."""
    offer = handlers.answer(session=session, ports=ports, principal=caller, offer_id=offer_id,
                            accept=True, now=now)
    answer = _out(offer, session, ports, now, caller)
    session.commit()
    return answer


@router.post("/{offer_id}/decline")
def decline(offer_id: uuid.UUID, body: Decline, session: SessionDep, ports: PortsDep,
            caller: ProviderStaff, now: NowDep) -> OfferOut:
    """Say no, with a reason from the list; matching asks the next provider at once."""
    offer = handlers.answer(session=session, ports=ports, principal=caller, offer_id=offer_id,
                            accept=False, reason=body.reason, note=body.note, now=now)
    answer = _out(offer, session, ports, now, caller)
    session.commit()
    return answer
