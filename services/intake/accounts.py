"""Creating organizations and users: shared by the admin API, the demo seed and the tests."""

from __future__ import annotations

import uuid

from sqlmodel import Session, select

from services.intake.auth import hash_password
from services.intake.handlers import Conflict
from services.intake.models import Organization, OrganizationKind, Role, User


def create_organization(
    *, session: Session, name: str, kind: OrganizationKind, region: str,
    organization_id: uuid.UUID | None = None,
) -> Organization:
    """Add an organization; names are unique across the network."""
    if session.exec(select(Organization).where(Organization.name == name)).first():
        raise Conflict("An organization with this name exists.")
    organization = Organization(name=name, kind=kind, region=region,
                                id=organization_id or uuid.uuid4())
    session.add(organization)
    session.flush()
    return organization


def create_user(
    *, session: Session, organization_id: uuid.UUID, username: str, display_name: str,
    role: Role, password: str,
) -> User:
    """Add a person with one role in one organization; the password is stored as argon2."""
    if session.exec(select(User).where(User.username == username)).first():
        raise Conflict("This username is taken.")
    user = User(organization_id=organization_id, username=username, display_name=display_name,
                role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
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
