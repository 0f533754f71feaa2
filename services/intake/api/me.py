"""The signed-in person's own account: the TOTP second factor and the password."""

from __future__ import annotations

import pyotp
from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field

from services.intake.accounts import change_password
from services.intake.api.deps import AnyMember, NowDep, SessionDep
from services.intake.auth import AuthError
from services.intake.models import User
from services.intake.throttle import SignInThrottle

router = APIRouter(prefix="/api/v1/me", tags=["account"])


class TotpEnrolment(BaseModel):
    secret: str
    provisioning_uri: str = Field(description="show as a QR code for an authenticator app")


class TotpConfirmation(BaseModel):
    code: str = Field(pattern=r"^[0-9]{6}$", description="the 6-digit code the app shows now")


def _person(session: SessionDep, caller: AnyMember) -> User:
    user = session.get(User, caller.subject) if caller.kind == "user" else None
    if user is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST,
                            "Only people sign in with a second factor; API keys cannot.")
    return user


@router.post("/totp", status_code=status.HTTP_201_CREATED)
def enrol_totp(session: SessionDep, caller: AnyMember) -> TotpEnrolment:
    """Start enrolment; sign-in asks for codes only after a first code is confirmed."""
    user = _person(session, caller)
    secret = pyotp.random_base32()
    user.totp_pending = secret
    session.add(user)
    session.commit()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="Haven")
    return TotpEnrolment(secret=secret, provisioning_uri=uri)


@router.post("/totp/confirm", status_code=status.HTTP_204_NO_CONTENT)
def confirm_totp(body: TotpConfirmation, session: SessionDep, caller: AnyMember) -> None:
    """Turn the second factor on once the app produces a valid code."""
    user = _person(session, caller)
    if user.totp_pending is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "Start the enrolment first.")
    if not pyotp.TOTP(user.totp_pending).verify(body.code, valid_window=1):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "That code does not match. Check the time on your phone and retry.")
    user.totp_secret, user.totp_pending = user.totp_pending, None
    session.add(user)
    session.commit()


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=12, max_length=200,
                              description="at least 12 characters; a passphrase is best")


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
def new_password(request: Request, body: PasswordChange, session: SessionDep,
                 caller: AnyMember, now: NowDep) -> None:
    """Set a new password; every session of yours ends, this one too (sign in again).
    Wrong current passwords count against the sign-in limits, so a stolen token is no
    way around them."""
    _person(session, caller)
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    address = request.client.host if request.client else "unknown"
    wait = throttle.wait(address)
    if wait:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"Too many wrong passwords. Try again in {wait} seconds.",
                            headers={"Retry-After": str(wait)})
    try:
        change_password(session=session, principal=caller, current=body.current_password,
                        new=body.new_password, now=now)
    except AuthError as refused:
        throttle.failed(address)
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(refused)) from refused
    session.commit()
