"""The in-app inbox page: the organization's messages from the notifier, mark as read.

For outreach workers and provider staff (the notifier writes to their organizations).
Messages are de-identified words from the notifier's templates; the page shows them as
plain text and adds its own link to the referral or offer, never a link from the text.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import Session

from services.intake.inbox import handlers as inbox
from services.intake.pages.actions import run_use_case
from services.intake.pages.session import PageSession
from services.intake.pages.web import INBOX_ROLES, form_of, parse_id, redirect, render, role

router = APIRouter(prefix="/inbox", include_in_schema=False)
Reader = Annotated[PageSession, Depends(role(*INBOX_ROLES))]


@router.get("")
def messages(request: Request, viewer: Reader) -> Response:
    with Session(request.app.state.engine) as session:
        entries = inbox.messages(session=session, principal=viewer.principal)
    return render(request, "inbox.html", {"entries": entries}, viewer=viewer)


@router.post("/{message_id}/read")
async def mark_read(message_id: str, request: Request, viewer: Reader) -> Response:
    """Mark one message read for the organization; back to the list at the same place."""
    wanted = parse_id(message_id, "message")
    await form_of(request, viewer)  # only for its CSRF check: the form has no fields
    await run_use_case(request, lambda session, now: inbox.mark_read(
        session=session, principal=viewer.principal, message_id=wanted, now=now))
    return redirect(f"/inbox#message-{wanted}")
