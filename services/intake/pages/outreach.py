"""Outreach worker pages: the referral form, the live list, one referral's story."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from sqlmodel import Session

from services.intake import contact_terms, handlers
from services.intake.consent import ConsentProblem
from services.intake.directory import regions
from services.intake.directory.regions import RegionProblem
from services.intake.handlers import Conflict, NotFound
from services.intake.models import Role
from services.intake.offers import handlers as offers
from services.intake.pages import queries, referral_form, terms_form
from services.intake.pages.actions import run_use_case
from services.intake.pages.live import stream_statuses
from services.intake.pages.session import PageSession
from services.intake.pages.web import (
    PageError,
    form_of,
    parse_id,
    redirect,
    render,
    role,
)
from services.intake.schemas import ConsentChange
from shared.events.vocabulary import PersonDeclineReason

router = APIRouter(prefix="/outreach", include_in_schema=False)
CONSENT_SCOPES = ("share_profile", "share_contact", "contact_survivor")
Outreach = Annotated[PageSession, Depends(role(Role.OUTREACH_WORKER))]


@router.get("/referrals")
def referral_list(request: Request, viewer: Outreach) -> Response:
    with Session(request.app.state.engine) as session:
        rows = queries.referrals(session, viewer.principal)
    return render(request, "outreach/list.html", {"referrals": rows}, viewer=viewer)


@router.get("/referrals/new")
def new_referral(request: Request, viewer: Outreach) -> Response:
    return _form(request, viewer, {}, {})


def _form(request: Request, viewer: PageSession, values: referral_form.Fields,
          errors: dict[str, str], status_code: int = 200) -> Response:
    with Session(request.app.state.engine) as session:
        network_regions = regions.region_names(session=session)
    context = {"values": values, "errors": errors, "regions": network_regions,
               "idempotency_key": referral_form.one(values, "idempotency_key")
               or uuid.uuid4().hex}
    return render(request, "outreach/new.html", context, viewer=viewer, status_code=status_code)


@router.post("/referrals")
async def submit(request: Request, viewer: Outreach) -> Response:
    """Validate like the API, submit through the same use case, then show the referral."""
    fields = await form_of(request, viewer)
    result = referral_form.to_request(fields)
    if result.request is None:
        return _form(request, viewer, fields, result.errors, status_code=422)
    body = result.request

    def store() -> uuid.UUID:
        with Session(request.app.state.engine) as session:
            referral, _ = handlers.submit_referral(
                session=session, ports=request.app.state.ports, principal=viewer.principal,
                request=body, idempotency_key=referral_form.one(fields, "idempotency_key")[:200]
                or None, now=datetime.now(UTC))
            session.commit()
            return referral.id

    try:
        referral_id = await run_in_threadpool(store)
    except (ConsentProblem, RegionProblem) as problem:
        return _form(request, viewer, fields, {referral_form.field_of(problem.field): str(problem)},
                     status_code=422)
    except Conflict as conflict:
        return _form(request, viewer, fields, {"form": str(conflict)}, status_code=409)
    return redirect(f"/outreach/referrals/{referral_id}")


@router.get("/referrals/live")
async def live(request: Request, viewer: Outreach) -> StreamingResponse:
    """Server-sent events: each referral's status when it changes; the list updates itself."""

    def read() -> dict[str, str]:
        with Session(request.app.state.engine) as session:
            return queries.statuses(session, viewer.principal)

    return stream_statuses(request, read, "status_label")


@router.get("/referrals/{referral_id}")
def referral_page(referral_id: str, request: Request, viewer: Outreach) -> Response:
    return _referral(request, viewer, parse_id(referral_id, "referral"))


def _referral(request: Request, viewer: PageSession, wanted: uuid.UUID, *,
              errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    """The referral page; with `errors`, a form on it was refused and says why in place."""
    # Kept loaded after the commit that puts this access on record, for the template.
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        try:
            detail = queries.referral_detail(session, request.app.state.ports, viewer.principal,
                                             wanted, datetime.now(UTC))
        except NotFound as missing:
            raise PageError(404, str(missing)) from missing
        session.commit()
    return render(request, "outreach/referral.html", {**detail, "errors": errors or {}},
                  viewer=viewer, status_code=status_code)


async def _with_the_person(request: Request, viewer: PageSession, referral_id: str
                           ) -> tuple[uuid.UUID, referral_form.Fields]:
    return parse_id(referral_id, "referral"), await form_of(request, viewer)


@router.post("/referrals/{referral_id}/consent")
async def withdraw_consent(referral_id: str, request: Request, viewer: Outreach) -> Response:
    """The person withdrew one consent; every service hears of it within seconds."""
    wanted, fields = await _with_the_person(request, viewer, referral_id)
    scope = referral_form.one(fields, "scope")
    if scope not in CONSENT_SCOPES:
        raise PageError(422, key="choose_scope")
    change = ConsentChange.model_validate({"scope": scope, "granted": False})
    await run_use_case(request, lambda session, now: handlers.change_consent(
        session=session, ports=request.app.state.ports, principal=viewer.principal,
        referral_id=wanted, change=change, now=now))
    return redirect(f"/outreach/referrals/{wanted}")


@router.post("/referrals/{referral_id}/contact-terms")
async def contact_terms_form(referral_id: str, request: Request, viewer: Outreach) -> Response:
    """The person agrees to be contacted again, or wants another channel, number or hours."""
    wanted, fields = await _with_the_person(request, viewer, referral_id)
    if referral_form.one(fields, "action") not in terms_form.ACTIONS:
        raise PageError(422, key="choose_terms_action")
    result = terms_form.to_change(fields)
    if result.problems:
        raise PageError(422, " ".join(result.problems))
    ports = request.app.state.ports
    grant, terms = result.grant, result.terms
    if grant is not None:
        await run_use_case(request, lambda session, now: handlers.change_consent(
            session=session, ports=ports, principal=viewer.principal, referral_id=wanted,
            change=grant, now=now))
    elif terms is not None:
        await run_use_case(request, lambda session, now: contact_terms.change_contact_terms(
            session=session, ports=ports, principal=viewer.principal, referral_id=wanted,
            terms=terms, now=now))
    return redirect(f"/outreach/referrals/{wanted}")


@router.post("/referrals/{referral_id}/erase")
async def erase(referral_id: str, request: Request, viewer: Outreach) -> Response:
    """Erase the person's data everywhere, once the worker confirmed it."""
    wanted, fields = await _with_the_person(request, viewer, referral_id)
    if "confirm" not in fields:  # said on the referral page itself, by the box to tick
        return await run_in_threadpool(
            _referral, request, viewer, wanted, status_code=422,
            errors={"confirm": "confirm_erasure"})  # a key of templates/messages.html

    def shred(session: Session, now: datetime) -> None:
        referral = handlers.own_referral(session, viewer.principal, wanted)
        handlers.erase_referral(session=session, ports=request.app.state.ports,
                                referral=referral, reason="requested", now=now,
                                principal=viewer.principal)

    await run_use_case(request, shred)
    return redirect("/outreach/referrals")


@router.post("/referrals/{referral_id}/choice")
async def choice(referral_id: str, request: Request, viewer: Outreach) -> Response:
    """Parallel offers: the person takes one accepted place, or says no to one."""
    wanted, fields = await _with_the_person(request, viewer, referral_id)
    offer_id = parse_id(referral_form.one(fields, "offer_id"), "offer")
    ports = request.app.state.ports
    if referral_form.one(fields, "decision") == "choose":
        await run_use_case(request, lambda session, now: offers.choose(
            session=session, ports=ports, principal=viewer.principal, referral_id=wanted,
            offer_id=offer_id, now=now))
        return redirect(f"/outreach/referrals/{wanted}")
    try:
        reason = PersonDeclineReason(referral_form.one(fields, "reason"))
    except ValueError as error:
        raise PageError(422, key="person_reason") from error
    await run_use_case(request, lambda session, now: offers.person_declines(
        session=session, ports=ports, principal=viewer.principal, referral_id=wanted,
        offer_id=offer_id, reason=reason, now=now))
    return redirect(f"/outreach/referrals/{wanted}")
