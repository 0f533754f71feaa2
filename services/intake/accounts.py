"""Creating organizations and users (shared by the admin API, the pages, the demo seed and the
tests) and signing in (shared by the API and the pages), each with its audit entry."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Session, select

from services.intake.audit import Action, Subject, audit
from services.intake.auth import AuthError, Principal, hash_password, verify_password, verify_totp
from services.intake.handlers import Conflict
from services.intake.models import Organization, OrganizationKind, Role, User

# The one role a person (or partner system) of each kind of organization can hold: provider
# staff in an outreach organization would see that organization's referrals as offers.
ROLE_OF_KIND = {OrganizationKind.OUTREACH: Role.OUTREACH_WORKER,
                OrganizationKind.PROVIDER: Role.PROVIDER_STAFF,
                OrganizationKind.COORDINATOR: Role.NETWORK_ADMIN}


class RoleDoesNotFit(Exception):
    """The role asked for is not the one the organization's kind allows (a 422)."""


def check_role_fits(organization: Organization, role: Role) -> None:
    """Refuse a role that does not belong in this kind of organization, saying which does."""
    fitting = ROLE_OF_KIND[organization.kind]
    if role is not fitting:
        raise RoleDoesNotFit(f"role: a {organization.kind.value} organization can only have "
                             f"the role {fitting.value}")


def create_organization(
    *, session: Session, name: str, kind: OrganizationKind, region: str,
    organization_id: uuid.UUID | None = None, by: Principal | None = None,
    now: datetime | None = None,
) -> Organization:
    """Add an organization; names are unique across the network. An admin's onboarding
    (`by`, at `now`) is on record; the seed and the first admin are set-up, not access."""
    if session.exec(select(Organization).where(Organization.name == name)).first():
        raise Conflict("An organization with this name exists.")
    organization = Organization(name=name, kind=kind, region=region,
                                id=organization_id or uuid.uuid4())
    session.add(organization)
    session.flush()
    if by is not None and now is not None:
        audit(session, by, Action.ORGANIZATION_CREATED, Subject.ORGANIZATION, organization.id,
              now)
    return organization


def create_user(
    *, session: Session, organization_id: uuid.UUID, username: str, display_name: str,
    role: Role, password: str, by: Principal | None = None, now: datetime | None = None,
) -> User:
    """Add a person with one role in one organization; the password is stored as argon2.
    An admin's onboarding (`by`, at `now`) is on record."""
    if session.exec(select(User).where(User.username == username)).first():
        raise Conflict("This username is taken.")
    organization = session.get(Organization, organization_id)
    if organization is not None:
        check_role_fits(organization, role)
    user = User(organization_id=organization_id, username=username, display_name=display_name,
                role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    if by is not None and now is not None:
        audit(session, by, Action.USER_CREATED, Subject.USER, user.id, now)
    return user


def sign_in(*, session: Session, username: str, password: str, totp: str | None,
            now: datetime) -> Principal:
    """The person behind a username, password (and TOTP code), or AuthError. Both outcomes
    are on record; the caller commits either way. A failure names no actor (nobody was
    proven) and only the account's id, never the username that was typed."""
    user = session.exec(select(User).where(User.username == username)).first()
    password_ok = verify_password(password, user.password_hash if user else None)
    subject = user.id if user else None
    if user is None or not password_ok or not user.active:
        audit(session, None, Action.SIGN_IN_FAILED, Subject.USER, subject, now)
        raise AuthError("Wrong username or password.")
    if not verify_totp(user.totp_secret, totp):
        audit(session, None, Action.SIGN_IN_FAILED, Subject.USER, subject, now)
        raise AuthError("Enter the 6-digit code from your authenticator app.")
    principal = Principal(subject=user.id, organization_id=user.organization_id, role=user.role)
    audit(session, principal, Action.SIGN_IN_SUCCEEDED, Subject.USER, user.id, now)
    return principal


def ensure_admin(*, session: Session, username: str, password: str) -> bool:
    """The network's first admin (and its coordinating organization); False if it exists."""
    if session.exec(select(User).where(User.username == username)).first():
        return False
    coordination = session.exec(select(Organization).where(
        Organization.kind == OrganizationKind.COORDINATOR)).first()
    if coordination is None:
        coordination = create_organization(session=session, name="Network coordination",
                                           kind=OrganizationKind.COORDINATOR, region="national")
    create_user(session=session, organization_id=coordination.id, username=username,
                display_name="Network admin", role=Role.NETWORK_ADMIN, password=password)
    return True
