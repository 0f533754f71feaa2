"""Creating organizations and users (shared by the admin API, the pages, the demo seed and the
tests) and signing in (shared by the API and the pages), each with its audit entry."""

from __future__ import annotations

import logging
import math
import uuid
from datetime import datetime

from sqlmodel import Session, select

from services.intake.audit import Action, Subject, audit
from services.intake.auth import AuthError, Principal, hash_password, verify_password, verify_totp
from services.intake.handlers import Conflict, NotFound, aware
from services.intake.lockout import lock_after, starts_a_lock
from services.intake.models import Organization, OrganizationKind, Role, User
from services.intake.sessions import end_all_sessions, new_session_id

log = logging.getLogger("haven.intake")

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


class LockedOut(AuthError):
    """Too many failed sign-ins in a row for this account: wait `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed sign-ins. Try again in {retry_after} seconds.")
        self.retry_after = retry_after


def sign_in(*, session: Session, username: str, password: str, totp: str | None,
            now: datetime, known_device: uuid.UUID | None = None) -> Principal:
    """The person behind a username, password (and TOTP code), or AuthError. Both outcomes
    are on record; the caller commits either way. A failure names no actor (nobody was
    proven) and only the account's id, never the username that was typed. A locked account
    is LockedOut without a password check or an audit row, except for the browser it
    signed in on before (`known_device`, the account's id from known_device.py)."""
    user = session.exec(select(User).where(User.username == username)).first()
    locked_until = aware(user.locked_until) if user is not None else None
    if user is not None and user.id != known_device and locked_until and locked_until > now:
        raise LockedOut(max(1, math.ceil((locked_until - now).total_seconds())))
    password_ok = verify_password(password, user.password_hash if user else None)
    if user is None or not password_ok or not user.active:
        _failed(session, user, now)
        raise AuthError("Wrong username or password.")
    if not verify_totp(user.totp_secret, totp):
        _failed(session, user, now)
        raise AuthError("Enter the 6-digit code from your authenticator app.")
    user.failed_sign_ins, user.locked_until = 0, None
    session.add(user)
    principal = Principal(subject=user.id, organization_id=user.organization_id, role=user.role,
                          session_id=new_session_id(), session_version=user.session_version)
    audit(session, principal, Action.SIGN_IN_SUCCEEDED, Subject.USER, user.id, now)
    return principal


def _failed(session: Session, user: User | None, now: datetime) -> None:
    """On record, and one more failure in a row for the account (which may lock it: the
    first lock of a streak is an alert for admins on the trail, the dashboard and the log)."""
    audit(session, None, Action.SIGN_IN_FAILED, Subject.USER, user.id if user else None, now)
    if user is None:
        return
    user.failed_sign_ins += 1
    lock = lock_after(user.failed_sign_ins)
    if lock is not None:
        user.locked_until = now + lock
        if starts_a_lock(user.failed_sign_ins):
            audit(session, None, Action.SIGN_IN_LOCKED, Subject.USER, user.id, now)
            log.warning("account locked after failed sign-ins",
                        extra={"user_id": str(user.id), "failures": user.failed_sign_ins})
    session.add(user)


def change_password(*, session: Session, principal: Principal, current: str, new: str,
                    now: datetime) -> None:
    """A person's own new password, after proving the current one; every session of theirs
    ends (a thief holding a copied token loses it too). The caller commits."""
    user = session.get(User, principal.subject)
    if user is None or not verify_password(current, user.password_hash):
        raise AuthError("The current password is not right.")
    user.password_hash = hash_password(new)
    end_all_sessions(session=session, user=user)
    audit(session, principal, Action.PASSWORD_CHANGED, Subject.USER, user.id, now)


def change_role(*, session: Session, user_id: uuid.UUID, role: Role, by: Principal,
                now: datetime) -> User:
    """Give a person another role; their sessions end, so no token keeps the old role."""
    user = _someone_else(session, user_id, by)
    organization = session.get(Organization, user.organization_id)
    if organization is not None:
        check_role_fits(organization, role)
    if user.role is not role:
        user.role = role
        end_all_sessions(session=session, user=user)
        audit(session, by, Action.USER_ROLE_CHANGED, Subject.USER, user.id, now)
    return user


def deactivate_user(*, session: Session, user_id: uuid.UUID, by: Principal,
                    now: datetime) -> User:
    """Switch an account off: it cannot sign in, and every session of it ends now."""
    user = _someone_else(session, user_id, by)
    if user.active:
        user.active = False
        end_all_sessions(session=session, user=user)
        audit(session, by, Action.USER_DEACTIVATED, Subject.USER, user.id, now)
    return user


def _someone_else(session: Session, user_id: uuid.UUID, by: Principal) -> User:
    """The account an admin changes: it exists, and it is not the admin's own (so the last
    admin cannot lock the network out by mistake)."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No user with this id.")
    if user.id == by.subject:
        raise Conflict("You cannot change your own role or switch off your own account; "
                       "ask another network admin.")
    return user


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
