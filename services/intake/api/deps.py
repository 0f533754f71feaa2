"""Dependencies as Annotated aliases, so routes read like sentences, and the role rules.

Every route under /api/v1 declares `Allow(...)`; tests/unit/intake/test_authorization.py
walks the route table and fails for a route without one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session, select

from services.intake.auth import AuthError, Principal, api_key_matches, read_token, split_api_key
from services.intake.handlers import Ports
from services.intake.models import ApiKey, Role
from services.intake.sessions import live_user

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def _session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


def _ports(request: Request) -> Ports:
    ports: Ports = request.app.state.ports
    return ports


def _now() -> datetime:
    return datetime.now(UTC)


SessionDep = Annotated[Session, Depends(_session)]
PortsDep = Annotated[Ports, Depends(_ports)]
NowDep = Annotated[datetime, Depends(_now)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message,
                         headers={"WWW-Authenticate": "Bearer"})


def _principal(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(_bearer)]
) -> Principal:
    api_key = request.headers.get("X-API-Key")
    try:
        if api_key:
            return _principal_from_api_key(session, api_key)
        if token:
            principal = read_token(token, secret=request.app.state.token_secret)
            live_user(session=session, principal=principal)  # still active, not signed out
            return principal
    except AuthError as error:
        raise _unauthorized(str(error)) from error
    raise _unauthorized("Sign in first: send a bearer token or an X-API-Key header.")


def _principal_from_api_key(session: Session, presented: str) -> Principal:
    prefix, secret = split_api_key(presented)
    key = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    if key is None or key.revoked_at is not None or not api_key_matches(secret, key.secret_hash):
        raise AuthError("This API key is not valid or was revoked.")
    return Principal(subject=key.id, organization_id=key.organization_id, role=key.role,
                     kind="api_key")


class Allow:
    """A route's role rule; the dependency returns the caller when the role fits."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    def __call__(self, principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        if principal.role not in self.roles:
            allowed = ", ".join(sorted(role.value.replace("_", " ") for role in self.roles))
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"Your role may not do this. Allowed: {allowed}.")
        return principal


OutreachWorker = Annotated[Principal, Depends(Allow(Role.OUTREACH_WORKER))]
Admin = Annotated[Principal, Depends(Allow(Role.NETWORK_ADMIN))]
ProviderStaff = Annotated[Principal, Depends(Allow(Role.PROVIDER_STAFF))]
InboxReader = Annotated[Principal, Depends(Allow(Role.OUTREACH_WORKER, Role.PROVIDER_STAFF))]
Editor = Annotated[Principal, Depends(Allow(Role.PROVIDER_STAFF, Role.NETWORK_ADMIN))]
AnyMember = Annotated[Principal, Depends(Allow(*Role))]
