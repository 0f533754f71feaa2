"""Plumbing shared by every page: templates, the signed-in person, CSRF, safe headers.

Routes stay thin: they read the session through `Viewer`/`role(...)`, call a use
case and hand a context to `render`. Every page answers `Cache-Control: no-store`
so nothing personal stays in the browser's cache or its back/forward history.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from services.intake.hygiene import STRICT_CSP
from services.intake.inbox import handlers as inbox
from services.intake.models import Role
from services.intake.pages import session as cookie
from services.intake.pages.session import PageSession, SessionExpired
from services.intake.pages.settings import PagesSettings
from services.intake.sessions import SessionEnded, live_user
from shared.references import referral_reference

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
# The short reference outreach messages quote, so a message can be found on the pages.
TEMPLATES.env.filters["reference"] = referral_reference
SAFE_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": STRICT_CSP,
}
PRE_SESSION = "haven_presession"
INBOX_ROLES = (Role.OUTREACH_WORKER, Role.PROVIDER_STAFF)  # the notifier posts to their orgs
HOME = {Role.OUTREACH_WORKER: "/outreach/referrals", Role.PROVIDER_STAFF: "/provider/offers",
        Role.NETWORK_ADMIN: "/admin"}


class PageError(Exception):
    """A problem to show as a page, with a status code and either a key of
    templates/messages.html (the pages' own words) or a domain message as it is."""

    def __init__(self, status_code: int, message: str = "", *, key: str = "",
                 detail: str = "") -> None:
        super().__init__(message or key)
        self.status_code, self.message, self.key, self.detail = (status_code, message, key,
                                                                 detail)


def settings(request: Request) -> PagesSettings:
    found: PagesSettings = request.app.state.pages
    return found


def _viewer(request: Request) -> PageSession:
    """The signed-in person, while the account is still active with the same role and the
    session was not ended on the server (sign-out, quick exit, password or role change)."""
    try:
        viewer = cookie.decode(request.cookies.get(cookie.COOKIE),
                               secret=request.app.state.token_secret)
    except SessionExpired as error:
        raise PageError(401, key=str(error)) from error
    with Session(request.app.state.engine) as session:
        try:
            live_user(session=session, principal=viewer.principal)
        except SessionEnded as ended:
            raise PageError(401, key=ended.key) from ended
    return viewer


Viewer = Annotated[PageSession, Depends(_viewer)]


def role(*wanted: Role) -> Callable[[PageSession], PageSession]:
    """A dependency that lets only these roles see a page (403 with a way back otherwise)."""

    def check(viewer: Viewer) -> PageSession:
        if viewer.principal.role not in wanted:
            raise PageError(403, key="other_role")
        return viewer

    return check


async def form_of(request: Request, viewer: PageSession) -> dict[str, list[str]]:
    """The posted form as lists of values, after checking its CSRF token."""
    data = await request.form()
    fields: dict[str, list[str]] = {}
    for key, value in data.multi_items():
        if isinstance(value, str):
            fields.setdefault(key, []).append(value)
    if not viewer.csrf_ok((fields.get("csrf") or [""])[0]):
        raise PageError(403, key="stale_form")
    return fields


def parse_id(value: str, what: str) -> uuid.UUID:
    """Ids in page addresses; anything else is a plain 404 (never a 500)."""
    try:
        return uuid.UUID(value)
    except ValueError as error:
        raise PageError(404, key="no_such", detail=what) from error


def render(request: Request, template: str, context: dict[str, Any], *,
           viewer: PageSession | None = None, status_code: int = 200) -> HTMLResponse:
    """A page with the safe headers; a signed-in person's idle timer starts again."""
    page = TEMPLATES.TemplateResponse(
        request, template, {"viewer": viewer, "quick_exit_url": settings(request).quick_exit_url,
                            "now": datetime.now(UTC), "inbox_unread": _unread(request, viewer),
                            **context},
        status_code=status_code, headers=SAFE_HEADERS)
    if viewer is not None:
        set_cookie(request, page, viewer)
    return page


def _unread(request: Request, viewer: PageSession | None) -> int:
    """The number the menu shows next to "Inbox" (only roles the notifier writes to)."""
    if viewer is None or viewer.principal.role not in INBOX_ROLES:
        return 0
    with Session(request.app.state.engine) as session:
        return inbox.unread_count(session=session,
                                  organization_id=viewer.principal.organization_id)


def secure_cookies(request: Request) -> bool:
    """HTTPS-only cookies: always in production, else as HAVEN_PAGES_SECURE_COOKIES says."""
    secure = settings(request).secure_cookies
    return bool(request.app.state.pages_production if secure is None else secure)


def set_cookie(request: Request, response: Response, viewer: PageSession) -> None:
    response.set_cookie(cookie.COOKIE, cookie.encode(viewer, secret=request.app.state.token_secret),
                        max_age=int(cookie.IDLE_LIFETIME.total_seconds()), httponly=True,
                        samesite="strict", secure=secure_cookies(request), path="/")


def sign_in_form(request: Request, context: dict[str, Any],
                 status_code: int = 200) -> HTMLResponse:
    """The sign-in page with a fresh CSRF token, also checked against a cookie (double
    submit), so another site cannot sign a browser into someone else's account."""
    token = secrets.token_urlsafe(24)
    page = render(request, "sign_in.html", {**context, "csrf": token}, status_code=status_code)
    page.set_cookie(PRE_SESSION, token, max_age=1800, httponly=True, samesite="strict",
                    secure=secure_cookies(request), path="/sign-in")
    return page


def redirect(location: str) -> RedirectResponse:
    """After a successful post: 303 so a reload never sends the form twice."""
    return RedirectResponse(location, status_code=303, headers=SAFE_HEADERS)


def error_page(request: Request, error: Exception) -> Response:
    """PageError as HTML; 401 sends the person to the sign-in page with the reason."""
    assert isinstance(error, PageError)
    said = {"message": error.message, "key": error.key, "detail": error.detail}
    if error.status_code == 401:
        asked = request.url.path if request.method == "GET" else ""
        page = sign_in_form(request, {**said, "next": asked}, status_code=401)
        page.delete_cookie(cookie.COOKIE, path="/")
        return page
    return render(request, "error.html", said, status_code=error.status_code)
