"""Network admin pages: the flow dashboard with gap analytics, and onboarding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session, select

from services.intake import api_keys
from services.intake.accounts import (
    RoleDoesNotFit,
    create_organization,
    create_user,
    deactivate_user,
)
from services.intake.api.admin import OrganizationIn, UserIn
from services.intake.directory.handlers import announce_organization
from services.intake.handlers import Conflict, NotFound
from services.intake.models import Organization, Role, User
from services.intake.pages import dashboard
from services.intake.pages.referral_form import errors_by_field, one
from services.intake.pages.session import PageSession
from services.intake.pages.web import form_of, parse_id, redirect, render, role

router = APIRouter(prefix="/admin", include_in_schema=False)
Admin = Annotated[PageSession, Depends(role(Role.NETWORK_ADMIN))]


@router.get("")
def overview(request: Request, viewer: Admin) -> Response:
    now = datetime.now(UTC)
    stale_after = timedelta(hours=request.app.state.capacity_stale_after_hours)
    with Session(request.app.state.engine) as session:
        context = {
            "stages": dashboard.by_stage(session),
            "times": dashboard.waiting_times(session, request.app.state.ports),
            "answers": dashboard.answers_by_provider(session),
            "capacity": dashboard.capacity_by_region(session, now=now, stale_after=stale_after),
            "gaps": dashboard.gaps(session, request.app.state.ports),
            "stuck": dashboard.stuck(session, request.app.state.ports, now=now),
            "threshold": dashboard.SUPPRESS_BELOW,
            "locked": dashboard.accounts_locked(session, now=now),
        }
    context["broker"] = request.app.state.pages_broker.get()
    return render(request, "admin/dashboard.html", context, viewer=viewer)


def _people(request: Request, viewer: PageSession, errors: dict[str, str],
            status_code: int = 200) -> Response:
    with Session(request.app.state.engine) as session:
        organizations = session.exec(select(Organization).order_by(Organization.name)).all()
        users = session.exec(select(User).order_by(User.username)).all()
        keys = api_keys.list_api_keys(session=session)
    names = {organization.id: organization.name for organization in organizations}
    return render(request, "admin/people.html",
                  {"organizations": organizations, "users": users, "errors": errors,
                   "roles": list(Role), "api_keys": keys, "org_names": names},
                  viewer=viewer, status_code=status_code)


@router.get("/people")
def people(request: Request, viewer: Admin) -> Response:
    return _people(request, viewer, {})


@router.post("/people")
async def onboard(request: Request, viewer: Admin) -> Response:
    """Add an organization or a user, validated by the admin API's own models."""
    fields = await form_of(request, viewer)
    values = {key: one(fields, key) for key in fields if key != "csrf"}
    what = values.pop("what", "")
    try:
        body = (OrganizationIn.model_validate(values) if what == "organization"
                else UserIn.model_validate(values))
    except ValidationError as invalid:
        return _people(request, viewer, errors_by_field(invalid) or {"form": "Check the form."},
                       status_code=422)

    def store() -> None:
        with Session(request.app.state.engine) as session:
            if isinstance(body, OrganizationIn):
                organization = create_organization(session=session, **body.model_dump(),
                                                   by=viewer.principal, now=datetime.now(UTC))
                announce_organization(session, request.app.state.ports, organization)
            elif session.get(Organization, body.organization_id) is None:
                raise Conflict("Choose an organization from the list.")
            else:
                create_user(session=session, **body.model_dump(), by=viewer.principal,
                            now=datetime.now(UTC))
            session.commit()

    try:
        await run_in_threadpool(store)
    except Conflict as refused:
        return _people(request, viewer, {"form": str(refused)}, status_code=409)
    except RoleDoesNotFit as unfit:
        return _people(request, viewer, {"role": str(unfit).removeprefix("role: ")},
                       status_code=422)
    return redirect("/admin/people")


@router.post("/people/{user_id}/deactivate")
async def deactivate(request: Request, viewer: Admin, user_id: str) -> Response:
    """Switch an account off; its sessions end at once (the API's rule, audited)."""
    await form_of(request, viewer)
    target = parse_id(user_id, "user")

    def store() -> None:
        with Session(request.app.state.engine) as session:
            deactivate_user(session=session, user_id=target, by=viewer.principal,
                            now=datetime.now(UTC))
            session.commit()

    try:
        await run_in_threadpool(store)
    except (Conflict, NotFound) as refused:
        return _people(request, viewer, {"form": str(refused)}, status_code=409)
    return redirect("/admin/people")


@router.post("/api-keys/{key_id}/revoke")
async def revoke_api_key(request: Request, viewer: Admin, key_id: str) -> Response:
    """Revoke a partner system's key (the API's rule, audited)."""
    await form_of(request, viewer)
    target = parse_id(key_id, "API key")

    def store() -> None:
        with Session(request.app.state.engine) as session:
            api_keys.revoke_api_key(session=session, key_id=target, by=viewer.principal,
                                    now=datetime.now(UTC))
            session.commit()

    try:
        await run_in_threadpool(store)
    except NotFound as refused:
        return _people(request, viewer, {"form": str(refused)}, status_code=404)
    return redirect("/admin/people")
