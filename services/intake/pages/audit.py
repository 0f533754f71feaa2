"""The audit trail page for network admins: who did or saw what, newest first.

Filters travel in the address (a GET form) because they are ids and codes only,
never personal data; an unusable filter answers 422 with the form and its message.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import Session, select

from services.intake.audit import Action, TrailQuery, trail
from services.intake.models import Organization, Role
from services.intake.pages.session import PageSession
from services.intake.pages.web import render, role

router = APIRouter(prefix="/admin", include_in_schema=False)
Admin = Annotated[PageSession, Depends(role(Role.NETWORK_ADMIN))]
PAGE_SIZE = 100


def filters_of(params: dict[str, str]) -> tuple[TrailQuery, dict[str, str]]:
    """The query an admin asked for, and a message per filter that could not be used."""
    errors: dict[str, str] = {}
    action = since = None
    ids: dict[str, uuid.UUID | None] = {"organization_id": None, "subject_id": None}
    if params.get("action"):
        try:
            action = Action(params["action"])
        except ValueError:
            errors["action"] = "Choose an action from the list."
    for name in ids:
        if params.get(name):
            try:
                ids[name] = uuid.UUID(params[name].strip())
            except ValueError:
                errors[name] = "Enter an id like 3f2b6c1e-0000-4000-8000-000000000000."
    if params.get("since"):
        try:
            since = datetime.combine(date.fromisoformat(params["since"].strip()), time(0, 0),
                                     tzinfo=UTC)
        except ValueError:
            errors["since"] = "Enter a date as YYYY-MM-DD."
    offset = params.get("offset", "0")
    return TrailQuery(action=action, organization_id=ids["organization_id"],
                      subject_id=ids["subject_id"], since=since, limit=PAGE_SIZE,
                      offset=int(offset) if offset.isdigit() and len(offset) < 9 else 0), errors


@router.get("/audit")
def audit_page(request: Request, viewer: Admin) -> Response:
    """The trail with its filters; organizations are named (they are not personal data)."""
    params = {key: value[:100] for key, value in request.query_params.items()}
    query, errors = filters_of(params)
    with Session(request.app.state.engine) as session:
        entries = [] if errors else trail(session, query)
        names = {o.id: o.name for o in session.exec(select(Organization)).all()}
    older = {**params, "offset": str(query.offset + PAGE_SIZE)}
    return render(request, "admin/audit.html", {
        "entries": entries, "names": names, "errors": errors, "params": params,
        "actions": list(Action), "older": older if len(entries) == PAGE_SIZE else None,
    }, viewer=viewer, status_code=422 if errors else 200)
