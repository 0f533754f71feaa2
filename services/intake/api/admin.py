"""Network admins onboard organizations, users and partner API keys."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select

from services.intake.accounts import create_organization, create_user
from services.intake.api.deps import Admin, PortsDep, SessionDep
from services.intake.auth import new_api_key
from services.intake.directory.handlers import announce_organization
from services.intake.models import ApiKey, Organization, OrganizationKind, Role


class OrganizationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=2, max_length=200)
    kind: OrganizationKind
    region: str = Field(min_length=1, max_length=64)


class OrganizationOut(OrganizationIn):
    id: uuid.UUID


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    organization_id: uuid.UUID
    username: str = Field(min_length=3, max_length=120, pattern=r"^[A-Za-z0-9._@-]+$")
    display_name: str = Field(min_length=1, max_length=200)
    role: Role
    password: str = Field(min_length=12, max_length=200,
                          description="at least 12 characters; a passphrase is best")


class UserOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    username: str
    display_name: str
    role: Role


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    organization_id: uuid.UUID
    name: str = Field(min_length=1, max_length=120)
    role: Role


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    key: str = Field(description="shown once; store it in the partner system now")


router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


@router.post("/organizations", status_code=status.HTTP_201_CREATED)
def onboard_organization(body: OrganizationIn, session: SessionDep, ports: PortsDep,
                         _: Admin) -> OrganizationOut:
    """Add an organization to the network and publish it in the directory."""
    organization = create_organization(session=session, **body.model_dump())
    announce_organization(session, ports, organization)
    session.commit()
    return OrganizationOut(id=organization.id, **body.model_dump())


@router.get("/organizations")
def list_organizations(session: SessionDep, _: Admin) -> list[OrganizationOut]:
    """Every organization in the network."""
    rows = session.exec(select(Organization).order_by(Organization.name)).all()
    return [OrganizationOut.model_validate(row, from_attributes=True) for row in rows]


@router.post("/users", status_code=status.HTTP_201_CREATED)
def onboard_user(body: UserIn, session: SessionDep, _: Admin) -> UserOut:
    """Add a person to an organization with one role."""
    if session.get(Organization, body.organization_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No organization with this id.")
    user = create_user(session=session, **body.model_dump())
    session.commit()
    return UserOut.model_validate(user, from_attributes=True)


@router.post("/api-keys", status_code=status.HTTP_201_CREATED)
def issue_api_key(body: ApiKeyIn, session: SessionDep, _: Admin) -> ApiKeyOut:
    """A credential for a partner system, acting for one organization in one role."""
    if session.get(Organization, body.organization_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No organization with this id.")
    fresh = new_api_key()
    key = ApiKey(organization_id=body.organization_id, name=body.name, role=body.role,
                 prefix=fresh.prefix, secret_hash=fresh.secret_hash)
    session.add(key)
    session.commit()
    return ApiKeyOut(id=key.id, key=fresh.plaintext)
