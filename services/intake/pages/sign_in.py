"""Signing in and out of the pages, reusing the API's password and TOTP checks."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlmodel import Session

from services.intake import known_device
from services.intake.api.auth import sign_in as api_sign_in
from services.intake.auth import read_token
from services.intake.models import User
from services.intake.pages import session as cookie
from services.intake.pages.web import (
    HOME,
    PRE_SESSION,
    SAFE_HEADERS,
    PageError,
    Viewer,
    form_of,
    redirect,
    render,
    secure_cookies,
    set_cookie,
    sign_in_form,
)
from services.intake.sessions import end_session

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request) -> Response:
    """Signed in: your role's first page. Otherwise: the sign-in page."""
    try:
        viewer = cookie.decode(request.cookies.get(cookie.COOKIE),
                               secret=request.app.state.token_secret)
    except cookie.SessionExpired:
        return redirect("/sign-in")
    return redirect(HOME[viewer.principal.role])


@router.get("/sign-in")
def sign_in_page(request: Request) -> Response:
    return sign_in_form(request, {})


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """The same checks as POST /api/v1/auth/token; the answer is a session cookie and the
    page the person first asked for (or their role's start page)."""
    form = await request.form()
    fields = {key: value if isinstance(value, str) else "" for key, value in form.items()}
    expected = request.cookies.get(PRE_SESSION, "")
    if not expected or not hmac.compare_digest(expected, fields.get("csrf", "")):
        raise PageError(403, key="sign_in_expired")
    username, then = fields.get("username", "")[:120], _local(fields.get("next", ""))
    with Session(request.app.state.engine) as db:
        try:
            token = await run_in_threadpool(
                api_sign_in, request, db, username, fields.get("password", "")[:200],
                fields.get("totp", "")[:10] or None)
        except HTTPException as refused:  # 401, or 429 with Retry-After when throttled
            page = render(request, "sign_in.html", {
                "csrf": expected, "message": refused.detail, "username": username,
                "next": then}, status_code=refused.status_code)
            page.headers.update(refused.headers or {})
            return page
        principal = read_token(token.access_token, secret=request.app.state.token_secret)
        user = db.get(User, principal.subject)
        name = user.display_name if user else ""
    viewer = cookie.new_session(principal, name)
    answer = redirect(then or HOME[principal.role])
    set_cookie(request, answer, viewer)
    known_device.remember(request, answer, principal.subject, secure=secure_cookies(request))
    answer.delete_cookie(PRE_SESSION, path="/sign-in")
    return answer


def _local(path: str) -> str:
    """Only a path on this site (never another host) may follow the sign-in."""
    if path.startswith("/") and not path.startswith(("//", "/\\")) and len(path) < 300:
        return path
    return ""


@router.post("/sign-out")
async def sign_out(request: Request, viewer: Viewer) -> Response:
    """End this session on the server, so a copy of the cookie stops working too."""
    await form_of(request, viewer)
    await run_in_threadpool(_end, request, viewer)
    answer = redirect("/sign-in")
    answer.delete_cookie(cookie.COOKIE, path="/")
    return answer


@router.post("/quick-exit")
async def quick_exit(request: Request) -> Response:
    """What the quick-exit control sends (a beacon, as the browser leaves): the session
    ends on the server. Always 204 and no page: nobody waits for it, and a session that
    already ended needs nothing. The CSRF token (from the page) proves this site sent it."""
    try:
        viewer = cookie.decode(request.cookies.get(cookie.COOKIE),
                               secret=request.app.state.token_secret)
    except cookie.SessionExpired:
        return Response(status_code=204)
    form = await request.form()
    presented = form.get("csrf")
    if not viewer.csrf_ok(presented if isinstance(presented, str) else None):
        return Response(status_code=204)
    await run_in_threadpool(_end, request, viewer)
    answer = Response(status_code=204, headers=SAFE_HEADERS)
    answer.delete_cookie(cookie.COOKIE, path="/")
    return answer


def _end(request: Request, viewer: cookie.PageSession) -> None:
    with Session(request.app.state.engine) as db:
        end_session(session=db, principal=viewer.principal, now=datetime.now(UTC))
        db.commit()
