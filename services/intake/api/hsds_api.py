"""The HSDS 3.1 API's read paths, for directory tools: members only, one page at a time.

Base URL `/api/v1/hsds`; paths, parameters and the `Page` shape follow HSDS's
OpenAPI (`schema/openapi.json` of the specification); see docs/directory.md.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.intake.api.deps import AnyMember, SessionDep
from services.intake.directory import hsds_reads, hsds_taxonomy
from services.intake.directory.hsds_export import HSDS_VERSION
from services.intake.directory.models import Service
from services.intake.handlers import NotFound
from services.intake.models import Organization

router = APIRouter(prefix="/api/v1/hsds", tags=["hsds"])
PageNumber = Annotated[int, Query(ge=1, le=100_000, description="page number, from 1")]
PerPage = Annotated[int, Query(ge=1, le=100, description="entities per page")]


@router.get("/")
def about(_: AnyMember) -> dict[str, str]:
    """Which HSDS this API speaks."""
    return {"version": HSDS_VERSION, "profile": "https://docs.openreferral.org/en/3.1/",
            "openapi_url": "/openapi.json"}


@router.get("/organizations")
def list_organizations(session: SessionDep, _: AnyMember, page: PageNumber = 1,
                       per_page: PerPage = 50) -> dict[str, Any]:
    """Organizations, fully nested, one page at a time."""
    return hsds_reads.organizations(session, number=page, per_page=per_page)


@router.get("/organizations/{organization_id}")
def get_organization(organization_id: uuid.UUID, session: SessionDep,
                     _: AnyMember) -> dict[str, Any]:
    """One organization, fully nested."""
    found = session.get(Organization, organization_id)
    if found is None:
        raise NotFound("No organization with this id.")
    return hsds_reads.organization(session, found)


@router.get("/services")
def list_services(session: SessionDep, _: AnyMember, page: PageNumber = 1,
                  per_page: PerPage = 50,
                  organization_id: uuid.UUID | None = None) -> dict[str, Any]:
    """Services with their organization and location, one page at a time."""
    return hsds_reads.services(session, number=page, per_page=per_page,
                               organization_id=organization_id)


@router.get("/services/{service_id}")
def get_service(service_id: uuid.UUID, session: SessionDep, _: AnyMember) -> dict[str, Any]:
    """One service, fully nested."""
    found = session.get(Service, service_id)
    if found is None:
        raise NotFound("No service with this id.")
    return hsds_reads.service(session, found)


@router.get("/taxonomies")
def list_taxonomies(_: AnyMember, page: PageNumber = 1,
                    per_page: PerPage = 50) -> dict[str, Any]:
    """The `haven` taxonomy (its terms: /taxonomy_terms)."""
    return hsds_reads.taxonomies(number=page, per_page=per_page)


@router.get("/taxonomy_terms")
def list_taxonomy_terms(_: AnyMember, page: PageNumber = 1,
                        per_page: PerPage = 50) -> dict[str, Any]:
    """Every term of the `haven` taxonomy."""
    terms = hsds_taxonomy.terms()
    chosen = terms[(page - 1) * per_page: page * per_page]
    return hsds_reads.page(items=chosen, total=len(terms), number=page, per_page=per_page)
