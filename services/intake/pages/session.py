"""The browser session: a signed, expiring cookie and the CSRF token that goes with it.

Pages use a cookie instead of a bearer token because a browser cannot attach a
header to a form post. The cookie is HttpOnly (scripts cannot read it),
SameSite=Strict (other sites cannot send it) and expires after a short idle time;
every page view renews it, up to a hard limit after sign-in. Forms also carry a
CSRF token bound to the session.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import jwt

from services.intake.auth import Principal
from services.intake.models import Role

COOKIE = "haven_session"
IDLE_LIFETIME = timedelta(minutes=30)
MAX_LIFETIME = timedelta(hours=10)  # one working day, however busy
_ALGORITHM = "HS256"
_TYPE = "page-session"


class SessionExpired(Exception):
    """No valid session: the person must sign in (again). The message is a key of
    templates/messages.html."""


@dataclass(frozen=True)
class PageSession:
    """Who is signed in on this browser, and the token their forms must echo."""

    principal: Principal
    display_name: str
    csrf: str
    signed_in: datetime = field(default_factory=lambda: datetime.now(UTC))

    def csrf_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.csrf)


def new_session(principal: Principal, display_name: str) -> PageSession:
    return PageSession(principal, display_name, secrets.token_urlsafe(24))


def encode(session: PageSession, *, secret: str, now: datetime | None = None) -> str:
    """The cookie value: it expires IDLE_LIFETIME after the last page the person opened,
    and never later than MAX_LIFETIME after they signed in."""
    issued = now or datetime.now(UTC)
    principal = session.principal
    claims = {"sub": str(principal.subject), "org": str(principal.organization_id),
              "role": principal.role.value, "name": session.display_name,
              "csrf": session.csrf, "typ": _TYPE, "iat": issued,
              "sid": principal.session_id, "ver": principal.session_version,
              "auth": int(session.signed_in.timestamp()),
              "exp": min(issued + IDLE_LIFETIME, session.signed_in + MAX_LIFETIME)}
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def decode(value: str | None, *, secret: str) -> PageSession:
    """The session in the cookie, or SessionExpired (missing, forged, expired)."""
    if not value:
        raise SessionExpired("sign_in")
    try:
        claims = jwt.decode(value, secret, algorithms=[_ALGORITHM],
                            options={"require": ["exp", "sub", "org", "role", "csrf", "auth",
                                                 "sid", "ver"]})
        if claims.get("typ") != _TYPE:
            raise SessionExpired("sign_in")
        principal = Principal(subject=uuid.UUID(claims["sub"]),
                              organization_id=uuid.UUID(claims["org"]),
                              role=Role(claims["role"]), session_id=str(claims["sid"]),
                              session_version=int(claims["ver"]))
        return PageSession(principal, str(claims.get("name", "")), str(claims["csrf"]),
                           datetime.fromtimestamp(int(claims["auth"]), UTC))
    except jwt.ExpiredSignatureError as error:
        raise SessionExpired("session_ended") from error
    except (jwt.InvalidTokenError, ValueError, KeyError) as error:
        raise SessionExpired("sign_in") from error
