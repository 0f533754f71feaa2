"""Defect 9: the smaller holes. A date with no UTC form is a 422, not a 500; a 422 names an
unknown field by its position, never by its name; HSDS import errors quote nothing of the
document; a role must fit the kind of organization it is given in."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, select

from services.intake.models import ApiKey, User
from tests.support.intake import PASSWORD, Intake, referral_body
from tests.support.pages import browser, engine

NO_UTC_FORM = "0001-01-01T00:00:00+14:00"


def _admin(intake: Intake) -> dict[str, str]:
    return intake.members["admin"].headers


def test_an_audit_query_since_a_time_with_no_utc_form_is_a_422(intake: Intake) -> None:
    for since in (NO_UTC_FORM, "9999-12-31T23:59:59-14:00"):
        answer = intake.client.get("/api/v1/admin/audit", params={"since": since},
                                   headers=_admin(intake))
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"] == "since"
        assert "UTC" in answer.json()["detail"]


def test_a_consent_ending_at_a_time_with_no_utc_form_is_a_422(intake: Intake) -> None:
    body = referral_body()
    body["consent"]["share_profile"]["expires_at"] = "9999-12-31T23:00:00-14:00"  # type: ignore[index]
    answer = intake.client.post("/api/v1/referrals", json=body,
                                headers=intake.members["outreach"].headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "consent.share_profile.expires_at"


def test_an_unknown_field_is_named_by_its_position_not_its_name(intake: Intake) -> None:
    name, nested = f"CANARY-FIELD-{uuid.uuid4().hex[:8]}", f"CANARY-NESTED-{uuid.uuid4().hex[:8]}"
    body: dict[str, Any] = {**referral_body(), name: "x"}
    body["contact"] = {"name": "A", nested: 1}
    answer = intake.client.post("/api/v1/referrals", json=body,
                                headers=intake.members["outreach"].headers)
    assert answer.status_code == 422, answer.text
    assert name not in answer.text and nested not in answer.text
    fields = {problem["field"] for problem in answer.json()["errors"]}
    assert fields == {f"(unknown field {len(body)})", "contact.(unknown field 2)"}
    assert "unknown field" in answer.json()["errors"][0]["message"]


def _hsds(organization: dict[str, Any]) -> dict[str, Any]:
    return {"organizations": [organization]}


def test_hsds_import_errors_quote_nothing_of_the_document(intake: Intake) -> None:
    tag = uuid.uuid4().hex[:8]
    location = str(uuid.uuid4())
    document = _hsds({
        "id": str(uuid.uuid4()), "name": f"Import {tag}",
        "attributes": [{"taxonomy_term": {"taxonomy": "haven", "code": "organization_kind"},
                        "value": f"CANARY-KIND-{tag}"},
                       {"taxonomy_term": {"taxonomy": "haven", "code": "region"},
                        "value": "north"}],
        "locations": [{"id": location, "name": "Main", "latitude": 52.0, "longitude": 4.0,
                       "attributes": [{"taxonomy_term": {"taxonomy": "haven",
                                                         "code": "region"}, "value": "north"}]}],
        "services": [{"id": str(uuid.uuid4()), "name": "Beds",
                      "service_at_locations": [{"location_id": location}],
                      "attributes": [{"taxonomy_term": {"taxonomy": "haven",
                                                        "code": "service_type"},
                                      "value": f"CANARY-TYPE-{tag}"}]}],
    })
    answer = intake.client.post("/api/v1/directory/hsds", json=document,
                                headers=_admin(intake))
    assert answer.status_code == 200 and answer.json()["outcome"] == "rejected", answer.text
    assert tag not in answer.text
    messages = " ".join(p["message"] for p in answer.json()["rejected"])
    assert "organization_kind" in messages and "service_type" in messages

    bad_id = _hsds({"id": "QQzzWW-not-a-uuid", "name": f"Import {tag} 2"})
    answer = intake.client.post("/api/v1/directory/hsds", json=bad_id, headers=_admin(intake))
    assert answer.status_code == 200, answer.text
    assert answer.json()["rejected"][0]["path"] == "organizations[0].id"
    assert "QQ" not in answer.text and "found `" not in answer.text
    assert "UUID" in answer.json()["rejected"][0]["message"]


def test_an_admin_cannot_give_a_role_that_does_not_fit_the_organization(
        intake: Intake) -> None:
    outreach_org = str(intake.members["outreach"].organization_id)
    username = f"misfit-{uuid.uuid4().hex[:6]}"
    answer = intake.client.post("/api/v1/admin/users", headers=_admin(intake), json={
        "organization_id": outreach_org, "username": username, "display_name": "Misfit",
        "role": "provider_staff", "password": PASSWORD})
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "role"
    assert "outreach_worker" in answer.json()["detail"]
    key = intake.client.post("/api/v1/admin/api-keys", headers=_admin(intake), json={
        "organization_id": outreach_org, "name": "misfit key", "role": "network_admin"})
    assert key.status_code == 422, key.text

    client, csrf = browser(intake, "admin")
    page = client.post("/admin/people", data={
        "csrf": csrf, "what": "user", "organization_id": outreach_org, "username": username,
        "display_name": "Misfit", "role": "provider_staff", "password": PASSWORD})
    assert page.status_code == 422, page.text
    assert "outreach_worker" in page.text
    with Session(engine(intake)) as session:
        assert session.exec(select(User).where(User.username == username)).first() is None
        assert session.exec(select(ApiKey).where(ApiKey.name == "misfit key")).first() is None

    fitting = intake.client.post("/api/v1/admin/users", headers=_admin(intake), json={
        "organization_id": outreach_org, "username": username, "display_name": "Fits",
        "role": "outreach_worker", "password": PASSWORD})
    assert fitting.status_code == 201, fitting.text
