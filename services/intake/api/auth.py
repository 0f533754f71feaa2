"""Sign-in: the OAuth2 password flow, with a TOTP code when the user set one up."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status

from services.intake import accounts
from services.intake.api.deps import SessionDep
from services.intake.auth import TOKEN_LIFETIME, AuthError, issue_token
from services.intake.schemas import Token

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
PUBLIC_ROUTES = {"/api/v1/auth/token"}


@router.post("/token")
def sign_in(
    request: Request, session: SessionDep,
    username: Annotated[str, Form(max_length=120)],
    password: Annotated[str, Form(max_length=200)],
    totp: Annotated[str | None, Form(max_length=10)] = None,
) -> Token:
    """Exchange username, password (and TOTP code) for a short-lived bearer token."""
    try:
        principal = accounts.sign_in(session=session, username=username, password=password,
                                     totp=totp, now=datetime.now(UTC))
    except AuthError as refused:
        session.commit()  # the failed attempt stays on record
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(refused)) from refused
    session.commit()
    token = issue_token(principal, secret=request.app.state.token_secret)
    return Token(access_token=token, expires_in=int(TOKEN_LIFETIME.total_seconds()))
