"""Referrals for outreach workers: submit, list own, read the timeline, change consent, erase;
choose among accepted places, or decline one, with the person."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response, status
from pydantic import BaseModel, ConfigDict
from sqlmodel import col, select

from services.intake import contact_terms, handlers
from services.intake.api.deps import NowDep, OutreachWorker, PortsDep, SessionDep
from services.intake.models import ConsentRecord, Referral, TimelineEntry
from services.intake.offers import handlers as offers
from services.intake.schemas import (
    ConsentChange,
    NewContactTerms,
    ReferralCreate,
    ReferralCreated,
    ReferralDetail,
    ReferralSummary,
    TimelineItem,
)
from shared.events.vocabulary import PersonDeclineReason

router = APIRouter(prefix="/api/v1/referrals", tags=["referrals"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


class Choice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    offer_id: uuid.UUID


class PlacementRefusal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    offer_id: uuid.UUID
    reason: PersonDeclineReason


@router.post("", status_code=status.HTTP_201_CREATED)
def submit(
    body: ReferralCreate, session: SessionDep, ports: PortsDep, caller: OutreachWorker,
    now: NowDep, response: Response, idempotency_key: IdempotencyKey = None,
) -> ReferralCreated:
    """Accept a referral; a retry with the same Idempotency-Key returns the first answer."""
    referral, created = handlers.submit_referral(
        session=session, ports=ports, principal=caller, request=body,
        idempotency_key=idempotency_key, now=now)
    session.commit()
    if not created:
        response.status_code = status.HTTP_200_OK
    return ReferralCreated(id=referral.id, status=referral.status,
                           created_at=referral.created_at)


@router.get("")
def list_own(session: SessionDep, caller: OutreachWorker) -> list[ReferralSummary]:
    """The caller's organization's referrals, newest first."""
    rows = session.exec(select(Referral)
                        .where(Referral.organization_id == caller.organization_id)
                        .order_by(col(Referral.created_at).desc()).limit(500)).all()
    return [ReferralSummary.model_validate(row, from_attributes=True) for row in rows]


@router.get("/{referral_id}")
def timeline(referral_id: uuid.UUID, session: SessionDep, caller: OutreachWorker,
             now: NowDep) -> ReferralDetail:
    """One referral with everything that happened to it and its consent right now."""
    referral = handlers.view_referral(session=session, principal=caller,
                                      referral_id=referral_id, now=now)
    session.commit()  # the access record
    entries = session.exec(select(TimelineEntry).where(TimelineEntry.referral_id == referral.id)
                           .order_by(col(TimelineEntry.at))).all()
    consents = session.exec(select(ConsentRecord).where(
        ConsentRecord.referral_id == referral.id, col(ConsentRecord.revoked_at).is_(None))).all()
    return ReferralDetail(
        **ReferralSummary.model_validate(referral, from_attributes=True).model_dump(),
        timeline=[TimelineItem(at=e.at, kind=e.kind, detail=e.detail) for e in entries],
        consents={c.scope: bool(c.granted and (c.expires_at is None or c.expires_at > now))
                  for c in consents},
    )


@router.post("/{referral_id}/consent", status_code=status.HTTP_204_NO_CONTENT)
def change_consent(referral_id: uuid.UUID, body: ConsentChange, session: SessionDep,
                   ports: PortsDep, caller: OutreachWorker, now: NowDep) -> None:
    """Revoke, grant or renew one consent scope; every service hears of it.

    Granting contact_survivor needs `terms` (channel, hours, and an address unless the
    contact details on record have one); a renewal may leave them out to keep the
    current terms. After a withdrawal, terms must be given again."""
    handlers.change_consent(session=session, ports=ports, principal=caller,
                            referral_id=referral_id, change=body, now=now)
    session.commit()


@router.put("/{referral_id}/contact-terms", status_code=status.HTTP_204_NO_CONTENT)
def change_contact_terms(referral_id: uuid.UUID, body: NewContactTerms, session: SessionDep,
                         ports: PortsDep, caller: OutreachWorker, now: NowDep) -> None:
    """Another channel, number, address or hours while contact consent stays granted;
    409 when it is not granted (grant it with terms through /consent instead)."""
    contact_terms.change_contact_terms(session=session, ports=ports, principal=caller,
                                       referral_id=referral_id, terms=body, now=now)
    session.commit()


@router.post("/{referral_id}/erase", status_code=status.HTTP_204_NO_CONTENT)
def erase(referral_id: uuid.UUID, session: SessionDep, ports: PortsDep,
          caller: OutreachWorker, now: NowDep) -> None:
    """Erase the person's data everywhere (the person asked, or the team must)."""
    referral = handlers.own_referral(session, caller, referral_id)
    handlers.erase_referral(session=session, ports=ports, referral=referral,
                            reason="requested", now=now, principal=caller)
    session.commit()


@router.post("/{referral_id}/choose", status_code=status.HTTP_204_NO_CONTENT)
def choose(referral_id: uuid.UUID, body: Choice, session: SessionDep, ports: PortsDep,
           caller: OutreachWorker, now: NowDep) -> None:
    """The person chose one of the providers that accepted; the other places are released."""
    offers.choose(session=session, ports=ports, principal=caller, referral_id=referral_id,
                  offer_id=body.offer_id, now=now)
    session.commit()


@router.post("/{referral_id}/decline-placement", status_code=status.HTTP_204_NO_CONTENT)
def decline_placement(referral_id: uuid.UUID, body: PlacementRefusal, session: SessionDep,
                      ports: PortsDep, caller: OutreachWorker, now: NowDep) -> None:
    """The person does not want a place a provider accepted; the provider is told."""
    offers.person_declines(session=session, ports=ports, principal=caller,
                           referral_id=referral_id, offer_id=body.offer_id,
                           reason=body.reason, now=now)
    session.commit()
