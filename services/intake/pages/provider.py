"""Provider staff pages: the offer inbox (accept or decline in one step) and capacity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from sqlmodel import Session

from services.intake.directory import handlers as directory
from services.intake.directory.schemas import CapacitySet
from services.intake.models import Role
from services.intake.offers import handlers as offers
from services.intake.pages import queries
from services.intake.pages.actions import run_use_case
from services.intake.pages.live import stream_statuses
from services.intake.pages.referral_form import one
from services.intake.pages.session import PageSession
from services.intake.pages.web import PageError, form_of, parse_id, redirect, render, role
from shared.events.vocabulary import DeclineReason

router = APIRouter(prefix="/provider", include_in_schema=False)
Staff = Annotated[PageSession, Depends(role(Role.PROVIDER_STAFF))]


def _stale_after(request: Request) -> timedelta:
    return timedelta(hours=request.app.state.capacity_stale_after_hours)


@router.get("/offers")
def inbox(request: Request, viewer: Staff) -> Response:
    # Kept loaded after the commit that puts shown contact details on record.
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        rows = queries.inbox(session, request.app.state.ports, viewer.principal,
                             datetime.now(UTC))
        session.commit()
    return render(request, "provider/inbox.html",
                  {"offers": rows, "reasons": list(DeclineReason)}, viewer=viewer)


@router.get("/offers/live")
async def live(request: Request, viewer: Staff) -> StreamingResponse:
    """Server-sent events: offers' statuses, so the inbox can say a new one arrived."""

    def read() -> dict[str, str]:
        with Session(request.app.state.engine) as session:
            return queries.offer_statuses(session, viewer.principal)

    return stream_statuses(request, read, "offer_label")


@router.post("/offers/{offer_id}/answer")
async def answer(offer_id: str, request: Request, viewer: Staff) -> Response:
    """Accept, or decline with a reason and an optional note, in one form."""
    wanted = parse_id(offer_id, "offer")
    fields = await form_of(request, viewer)
    decision = one(fields, "decision")
    if decision not in {"accept", "decline"}:
        raise PageError(422, key="accept_or_decline")
    reason = None
    if decision == "decline":
        try:
            reason = DeclineReason(one(fields, "reason"))
        except ValueError as error:
            raise PageError(422, key="decline_reason") from error
    note = one(fields, "note")
    if len(note) > 1000:
        raise PageError(422, key="note_too_long")
    await run_use_case(request, lambda session, now: offers.answer(
        session=session, ports=request.app.state.ports, principal=viewer.principal,
        offer_id=wanted, accept=decision == "accept", reason=reason, note=note, now=now))
    return redirect(f"/provider/offers#offer-{wanted}")


@router.get("/capacity")
def capacity(request: Request, viewer: Staff) -> Response:
    with Session(request.app.state.engine) as session:
        now, stale_after = datetime.now(UTC), _stale_after(request)
        services = [(service, directory.capacity_view(row, now=now, stale_after=stale_after),
                     stale) for service, row, stale in queries.own_services(
                         session, viewer.principal, now, stale_after)]
    return render(request, "provider/capacity.html", {"services": services}, viewer=viewer)


@router.post("/capacity/{service_id}")
async def set_capacity(service_id: str, request: Request, viewer: Staff) -> Response:
    """"Still right" confirms the figure; a number sets the open places (and confirms)."""
    wanted = parse_id(service_id, "service")
    fields = await form_of(request, viewer)
    ports = request.app.state.ports
    if one(fields, "action") == "confirm":
        await run_use_case(request, lambda session, now: directory.confirm_capacity(
            session=session, ports=ports, principal=viewer.principal, service_id=wanted,
            now=now))
        return redirect(f"/provider/capacity#service-{wanted}")
    text = one(fields, "available")
    if not text.isdigit() or int(text) > 100_000:
        raise PageError(422, key="places_number")
    body = CapacitySet(available=int(text))
    await run_use_case(request, lambda session, now: directory.set_capacity(
        session=session, ports=ports, principal=viewer.principal, service_id=wanted,
        body=body, now=now))
    return redirect(f"/provider/capacity#service-{wanted}")
