"""Every endpoint × every role × own/other organization, generated from the route table.

A new route without an `Allow` rule (and not listed as public) fails here.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.routing import APIRoute
from sqlmodel import Session

from services.intake.api.auth import PUBLIC_ROUTES
from services.intake.api.deps import Allow
from services.intake.inbox.models import InboxMessage
from services.intake.main import ROUTERS, create_app
from services.intake.models import Role
from services.intake.offers.models import Offer
from shared.settings import IntakeSettings, KafkaSettings, RuntimeSettings
from tests.support.intake import Intake, referral_body

UNVERSIONED_PUBLIC = {"/healthz", "/readyz"}


def _rules(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], frozenset[Role]]:
    app = create_app(intake=IntakeSettings(), kafka=KafkaSettings(),
                     runtime=RuntimeSettings(var_dir=tmp_path_factory.mktemp("routes")),
                     background=False)
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    published = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}
    assert published == {(m, r.path) for r in routes for m in r.methods}, (
        "every published endpoint must come from a router in main.ROUTERS")
    rules: dict[tuple[str, str], frozenset[Role]] = {}
    for route in routes:
        if route.path in UNVERSIONED_PUBLIC | PUBLIC_ROUTES:
            continue
        allows = [dep.call for dep in route.dependant.dependencies if isinstance(dep.call, Allow)]
        assert len(allows) == 1, f"{route.path} declares no role rule (Allow)"
        for method in route.methods:
            rules[(method, route.path)] = allows[0].roles
    return rules


def test_every_api_route_has_a_role_rule(tmp_path_factory: pytest.TempPathFactory) -> None:
    assert len(_rules(tmp_path_factory)) >= 9


def _url(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda match: ids[match.group(1)], path)


def _call(intake: Intake, member_name: str, method: str, path: str, ids: dict[str, str]) -> int:
    url = _url(path, ids)
    bodies = {"/api/v1/referrals": referral_body(),
              "/api/v1/referrals/{referral_id}/consent": {"scope": "share_contact",
                                                          "granted": False},
              "/api/v1/referrals/{referral_id}/contact-terms": {
                  "channel": "sms", "hours": {"start": "09:00", "end": "17:00",
                                              "timezone": "Europe/Amsterdam"}},
              "/api/v1/referrals/{referral_id}/choose": {"offer_id": ids["offer_id"]},
              "/api/v1/referrals/{referral_id}/decline-placement": {
                  "offer_id": ids["offer_id"], "reason": "other"}}
    member = intake.members[member_name]
    answer = intake.client.request(method, url, headers=member.headers, json=bodies.get(path))
    return answer.status_code


def _provider_records(intake: Intake, referral: str) -> dict[str, str]:
    """A location and service of the provider's organization (the "own" record to change)."""
    headers = intake.members["provider"].headers
    location = intake.client.post("/api/v1/locations", headers=headers, json={
        "name": "Test location", "region": "north", "latitude": 52.0, "longitude": 5.0})
    service = intake.client.post("/api/v1/services", headers=headers, json={
        "name": "Test service", "service_type": "legal_aid",
        "location_id": location.json()["id"]})
    assert service.status_code == 201, service.text
    offer_id = uuid.uuid4()
    offer = Offer(id=offer_id, referral_id=uuid.UUID(referral), service_id=uuid.uuid4(),
                  organization_id=intake.members["provider"].organization_id, rank=1,
                  expires_at=datetime.now(UTC) + timedelta(hours=1))
    message = InboxMessage(notification_id=f"ntf-{uuid.uuid4().hex}",
                           referral_id=uuid.UUID(referral),
                           organization_id=intake.members["provider"].organization_id,
                           title="A new offer", body="Open the offer", posted_at=datetime.now(UTC))
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        session.add(offer)  # as the projector would, from matching's OfferMade
        session.add(message)  # and from the notifier's InboxMessagePosted
        session.commit()
        message_id = str(message.id)
    return {"location_id": location.json()["id"], "service_id": service.json()["id"],
            "offer_id": str(offer_id), "message_id": message_id}


def _throwaway_user(intake: Intake) -> str:
    """A person the admin routes may change or switch off without harming other cases."""
    made = intake.client.post("/api/v1/admin/users", headers=intake.members["admin"].headers,
                              json={"organization_id": str(intake.members["outreach"]
                                                           .organization_id),
                                    "username": f"matrix-{uuid.uuid4().hex[:6]}",
                                    "display_name": "Matrix", "role": "outreach_worker",
                                    "password": "a long enough password"})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _throwaway_key(intake: Intake) -> str:
    """An API key the admin routes may revoke."""
    issued = intake.client.post("/api/v1/admin/api-keys", headers=intake.members["admin"].headers,
                                json={"organization_id": str(intake.members["outreach"]
                                                             .organization_id),
                                      "name": "matrix", "role": "outreach_worker"})
    assert issued.status_code == 201, issued.text
    return str(issued.json()["id"])


def test_matrix(intake: Intake, tmp_path_factory: pytest.TempPathFactory) -> None:
    created = intake.client.post("/api/v1/referrals", json=referral_body(),
                                 headers=intake.members["outreach"].headers)
    referral = created.json()["id"]
    ids = {"referral_id": referral, **_provider_records(intake, referral),
           "user_id": _throwaway_user(intake), "key_id": _throwaway_key(intake),
           "organization_id": str(intake.members["provider"].organization_id)}
    failures = []
    for (method, path), roles in sorted(_rules(tmp_path_factory).items()):
        for name, member in intake.members.items():
            code = _call(intake, name, method, path, ids)
            if member.role not in roles:
                expected_ok = code == 403
            elif "{referral_id}" in path and name != "outreach":
                expected_ok = code == 404  # another organization's referral is invisible
            elif "{message_id}" in path and name != "provider":
                expected_ok = code == 404  # so is another organization's inbox message
            else:  # allowed: it worked, or the body or state was refused, never "forbidden"
                expected_ok = code < 400 or code in (409, 422)
            if not expected_ok:
                failures.append(f"{method} {path} as {name}: {code}")
        anonymous = intake.client.request(method, _url(path, ids))
        if anonymous.status_code != 401:
            failures.append(f"{method} {path} anonymous: {anonymous.status_code}")
    assert failures == []


def test_expired_or_forged_tokens_are_refused(intake: Intake) -> None:
    forged = {"Authorization": "Bearer " + intake.members["admin"].token[:-4] + "AAAA"}
    answer = intake.client.get("/api/v1/admin/organizations", headers=forged)
    assert answer.status_code == 401
    assert "sign in again" in answer.json()["detail"]


def test_api_key_acts_for_its_organization(intake: Intake) -> None:
    admin = intake.members["admin"].headers
    outreach = intake.members["outreach"]
    issued = intake.client.post("/api/v1/admin/api-keys", headers=admin, json={
        "organization_id": str(outreach.organization_id), "name": "case system",
        "role": "outreach_worker"})
    assert issued.status_code == 201
    key = {"X-API-Key": issued.json()["key"]}
    created = intake.client.post("/api/v1/referrals", headers=key, json=referral_body())
    assert created.status_code == 201
    mine = intake.client.get("/api/v1/referrals", headers=outreach.headers).json()
    assert created.json()["id"] in [r["id"] for r in mine]
    bad = intake.client.get("/api/v1/referrals", headers={"X-API-Key": "hvn_nope_nope"})
    assert bad.status_code == 401
    assert str(uuid.UUID(created.json()["id"]))
