"""Sign-in: the OAuth2 password flow, with a TOTP code when the user set one up."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status

from services.intake import accounts, known_device
from services.intake.api.deps import SessionDep
from services.intake.auth import TOKEN_LIFETIME, AuthError, issue_token
from services.intake.schemas import Token
from services.intake.throttle import SignInThrottle

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
PUBLIC_ROUTES = {"/api/v1/auth/token"}


@router.post("/token")
def sign_in(
    request: Request, session: SessionDep,
    username: Annotated[str, Form(max_length=120)],
    password: Annotated[str, Form(max_length=200)],
    totp: Annotated[str | None, Form(max_length=10)] = None,
) -> Token:
    """Exchange username, password (and TOTP code) for a short-lived bearer token. Failed
    attempts are limited per client address and per account (429 with Retry-After)."""
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    address = request.client.host if request.client else "unknown"
    wait = throttle.wait(address)
    if wait:
        raise _too_many(wait, "Too many failed sign-ins from your network.")
    try:
        principal = accounts.sign_in(session=session, username=username, password=password,
                                     totp=totp, now=datetime.now(UTC),
                                     known_device=known_device.known_to(request))
    except accounts.LockedOut as locked:
        raise _too_many(locked.retry_after, "Too many failed sign-ins.") from locked
    except AuthError as refused:
        throttle.failed(address)
        session.commit()  # the failed attempt stays on record
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(refused)) from refused
    session.commit()
    token = issue_token(principal, secret=request.app.state.token_secret)
    return Token(access_token=token, expires_in=int(TOKEN_LIFETIME.total_seconds()))


def _too_many(seconds: int, why: str) -> HTTPException:
    return HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                         f"{why} Try again in {seconds} seconds.",
                         headers={"Retry-After": str(seconds)})
