"""A browser that signed in to an account before, remembered by a signed cookie.

The account lockout (lockout.py) stops guessing, but an attacker who knows a username
could use it to keep the owner out. A browser that proved the password once carries
this cookie (HttpOnly, SameSite=Strict, only sent to /sign-in, 90 days) and is not
held back by the account's lockout; it still counts failures and stays under the
per-address limits. This is OWASP's "device cookie" defence.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "haven_known"
LIFETIME = timedelta(days=90)
PATH = "/sign-in"
_ALGORITHM = "HS256"
_TYPE = "known-device"


def remember(request: Request, response: Response, user_id: uuid.UUID, *,
             secure: bool) -> None:
    """After a successful sign-in: this browser is known to this account."""
    now = datetime.now(UTC)
    value = jwt.encode({"sub": str(user_id), "typ": _TYPE, "iat": now, "exp": now + LIFETIME},
                       request.app.state.token_secret, algorithm=_ALGORITHM)
    response.set_cookie(COOKIE, value, max_age=int(LIFETIME.total_seconds()), httponly=True,
                        samesite="strict", secure=secure, path=PATH)


def known_to(request: Request) -> uuid.UUID | None:
    """The account this browser signed in to before, if its cookie is genuine and current."""
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    try:
        claims = jwt.decode(value, request.app.state.token_secret, algorithms=[_ALGORITHM],
                            options={"require": ["exp", "sub", "typ"]})
        return uuid.UUID(claims["sub"]) if claims["typ"] == _TYPE else None
    except (jwt.InvalidTokenError, ValueError):
        return None
