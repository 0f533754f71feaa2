"""Sign-in: the OAuth2 password flow, with a TOTP code when the user set one up."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from sqlmodel import select

from services.intake.api.deps import SessionDep
from services.intake.auth import (
    TOKEN_LIFETIME,
    Principal,
    issue_token,
    verify_password,
    verify_totp,
)
from services.intake.models import User
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
    user = session.exec(select(User).where(User.username == username)).first()
    password_ok = verify_password(password, user.password_hash if user else None)
    if user is None or not password_ok or not user.active:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Wrong username or password.")
    if not verify_totp(user.totp_secret, totp):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                            "Enter the 6-digit code from your authenticator app.")
    principal = Principal(subject=user.id, organization_id=user.organization_id, role=user.role)
    token = issue_token(principal, secret=request.app.state.token_secret)
    return Token(access_token=token, expires_in=int(TOKEN_LIFETIME.total_seconds()))
