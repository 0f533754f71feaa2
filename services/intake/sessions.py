"""Server-side session revocation: a copied token stops working once its session ends.

Two mechanisms, because two different things end. Signing out (or the quick exit) ends
the one browser session it was pressed in; the person's other devices and scripts carry
on, as people expect of "sign out". Those put the token's session id (`sid`) on a
deny-list. A password change, a role change or a deactivation must end *every* session
of the person at once without a list of them: those raise `User.session_version`, and
every token carries the version it was issued under (`ver`). A deny-list row is needed
only while a token of that session could still be valid (10 hours at most after
sign-in), so the list stays small: expired rows go whenever a new one is added.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Field, Session, SQLModel, col

from services.intake.auth import AuthError, Principal
from services.intake.models import User

LONGEST_SESSION = timedelta(hours=10)  # pages/session.MAX_LIFETIME; API tokens live 15 min


class RevokedSession(SQLModel, table=True):
    """A session that ended before its tokens expire; kept until they would have."""

    session_id: str = Field(primary_key=True, max_length=64)
    user_id: uuid.UUID = Field(index=True)
    revoked_at: datetime
    expires_at: datetime = Field(index=True)


class SessionEnded(AuthError):
    """The token is genuine but its session was ended on the server. `key` is a key of
    pages/templates/messages.html; the message is for the API."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


def end_session(*, session: Session, principal: Principal, now: datetime) -> None:
    """End this one session now (sign-out, quick exit); the caller commits."""
    session.execute(delete(RevokedSession).where(col(RevokedSession.expires_at) < now))
    if principal.session_id and session.get(RevokedSession, principal.session_id) is None:
        session.add(RevokedSession(session_id=principal.session_id, user_id=principal.subject,
                                   revoked_at=now, expires_at=now + LONGEST_SESSION))


def end_all_sessions(*, session: Session, user: User) -> None:
    """End every session of this person (password, role or account changed)."""
    user.session_version += 1
    session.add(user)


def live_user(*, session: Session, principal: Principal) -> User:
    """The signed-in person, while the account is active, unchanged and the session not
    ended; otherwise SessionEnded. Checked on every request, API and pages alike."""
    user = session.get(User, principal.subject)
    if (user is None or not user.active or user.role is not principal.role
            or user.organization_id != principal.organization_id
            or user.session_version != principal.session_version):
        raise SessionEnded("account_changed", "Your account was changed or switched off. "
                                              "Sign in again, or ask your network admin.")
    if session.get(RevokedSession, principal.session_id) is not None:
        raise SessionEnded("session_ended", "This session was signed out. Please sign in again.")
    return user
