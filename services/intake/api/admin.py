"""Network admins onboard organizations, users and partner API keys, and read the audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select

from services.intake import api_keys
from services.intake.accounts import (
    change_role,
    create_organization,
    create_user,
    deactivate_user,
)
from services.intake.api.deps import Admin, NowDep, PortsDep, SessionDep
from services.intake.audit import MAX_PAGE, Action, TrailQuery, trail
from services.intake.directory.handlers import announce_organization
from services.intake.models import Organization, OrganizationKind, Role
from services.intake.schemas import AwareInstant


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


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    organization_id: uuid.UUID
    name: str = Field(min_length=1, max_length=120)
    role: Role


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    key: str = Field(description="shown once; store it in the partner system now")


class ApiKeyListed(BaseModel):
    """A key as the list shows it: never its secret."""

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    role: Role
    prefix: str = Field(description="the hvn_<prefix>_ part that partners see in their key")
    created_at: datetime
    revoked_at: datetime | None


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor_id: uuid.UUID | None = Field(description="user or API key id; none for the system "
                                                   "or a failed sign-in")
    organization_id: uuid.UUID | None
    role: str
    action: str
    subject_type: str
    subject_id: uuid.UUID | None


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    next_offset: int | None = Field(description="pass as offset for older entries; "
                                                "none when this was the last page")


router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


@router.post("/organizations", status_code=status.HTTP_201_CREATED)
def onboard_organization(body: OrganizationIn, session: SessionDep, ports: PortsDep,
                         caller: Admin, now: NowDep) -> OrganizationOut:
    """Add an organization to the network and publish it in the directory."""
    organization = create_organization(session=session, **body.model_dump(), by=caller, now=now)
    announce_organization(session, ports, organization)
    session.commit()
    return OrganizationOut(id=organization.id, **body.model_dump())


@router.get("/organizations")
def list_organizations(session: SessionDep, _: Admin) -> list[OrganizationOut]:
    """Every organization in the network."""
    rows = session.exec(select(Organization).order_by(Organization.name)).all()
    return [OrganizationOut.model_validate(row, from_attributes=True) for row in rows]


@router.post("/users", status_code=status.HTTP_201_CREATED)
def onboard_user(body: UserIn, session: SessionDep, caller: Admin, now: NowDep) -> UserOut:
    """Add a person to an organization with one role."""
    if session.get(Organization, body.organization_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No organization with this id.")
    user = create_user(session=session, **body.model_dump(), by=caller, now=now)
    session.commit()
    return UserOut.model_validate(user, from_attributes=True)


@router.put("/users/{user_id}/role")
def set_role(user_id: uuid.UUID, body: RoleChange, session: SessionDep, caller: Admin,
             now: NowDep) -> UserOut:
    """Give a person another role; every session they have ends (they sign in again)."""
    user = change_role(session=session, user_id=user_id, role=body.role, by=caller, now=now)
    session.commit()
    return UserOut.model_validate(user, from_attributes=True)


@router.post("/users/{user_id}/deactivate", status_code=status.HTTP_204_NO_CONTENT)
def deactivate(user_id: uuid.UUID, session: SessionDep, caller: Admin, now: NowDep) -> None:
    """Switch an account off: no more sign-ins, and its tokens and cookies stop working now."""
    deactivate_user(session=session, user_id=user_id, by=caller, now=now)
    session.commit()


@router.post("/api-keys", status_code=status.HTTP_201_CREATED)
def issue_api_key(body: ApiKeyIn, session: SessionDep, caller: Admin,
                  now: NowDep) -> ApiKeyOut:
    """A credential for a partner system, acting for one organization in one role."""
    key, fresh = api_keys.issue_api_key(session=session, **body.model_dump(), by=caller,
                                        now=now)
    session.commit()
    return ApiKeyOut(id=key.id, key=fresh.plaintext)


@router.get("/api-keys")
def list_keys(session: SessionDep, _: Admin) -> list[ApiKeyListed]:
    """Every partner key, newest first, with when it was revoked (never its secret)."""
    return [ApiKeyListed.model_validate(key, from_attributes=True)
            for key in api_keys.list_api_keys(session=session)]


@router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_key(key_id: uuid.UUID, session: SessionDep, caller: Admin, now: NowDep) -> None:
    """Revoke a key: the partner system is refused from its next request on."""
    api_keys.revoke_api_key(session=session, key_id=key_id, by=caller, now=now)
    session.commit()


@router.get("/audit")
def audit_trail(
    session: SessionDep, _: Admin,
    action: Annotated[Action | None, Query()] = None,
    organization_id: Annotated[uuid.UUID | None, Query()] = None,
    subject_id: Annotated[uuid.UUID | None, Query(description="referral, offer, service, "
                                                           "organization or user id")] = None,
    since: Annotated[AwareInstant | None, Query(description="with a time zone, e.g. "
                                                       "2026-01-31T00:00:00Z")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AuditPage:
    """Who did or saw what, newest first: ids and codes only (GDPR access records)."""
    rows = trail(session, TrailQuery(action=action, organization_id=organization_id,
                                     subject_id=subject_id, since=since, limit=limit,
                                     offset=offset))
    return AuditPage(entries=[AuditEntryOut.model_validate(row, from_attributes=True)
                              for row in rows],
                     next_offset=offset + limit if len(rows) == limit else None)
