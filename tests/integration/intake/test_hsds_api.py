"""The HSDS API read paths: paginated as HSDS's OpenAPI says, members only, each entity
valid HSDS 3.1, confidential locations as coarse as in the export."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support import hsds31
from tests.support.hsds_documents import directory
from tests.support.intake import Intake

PAGE_FIELDS = {"total_items", "total_pages", "page_number", "size", "first_page",
               "last_page", "empty", "contents"}


@pytest.fixture(scope="module")
def imported(intake: Intake) -> dict[str, Any]:
    document = directory(7, namespace=uuid.UUID("00000000-0000-4000-8000-0000000a5d5a"))
    document["organizations"][0]["services"][0]["service_at_locations"][0]["location"][
        "attributes"] = [{"value": "true", "taxonomy_term": {"taxonomy": "haven",
                                                             "code": "confidential"}}]
    answer = intake.client.post("/api/v1/directory/hsds", json=document,
                                headers=intake.members["admin"].headers)
    assert answer.json()["outcome"] == "imported", answer.text
    return document


def _get(intake: Intake, path: str, **params: object) -> Any:
    answer = intake.client.get(f"/api/v1/hsds{path}", params=params,
                               headers=intake.members["outreach"].headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_organizations_come_in_pages_of_valid_hsds(intake: Intake,
                                                   imported: dict[str, Any]) -> None:
    first = _get(intake, "/organizations", per_page=3)
    assert set(first) == PAGE_FIELDS
    assert (first["page_number"], first["size"], first["first_page"]) == (1, 3, True)
    assert first["total_items"] >= 7 and first["total_pages"] == -(-first["total_items"] // 3)
    seen = []
    for number in range(1, first["total_pages"] + 1):
        page = _get(intake, "/organizations", per_page=3, page=number)
        assert page["last_page"] == (number == first["total_pages"])
        seen += page["contents"]
    assert len({org["id"] for org in seen}) == first["total_items"]
    assert all(hsds31.organization_problems(org) == [] for org in seen)
    ours = imported["organizations"][1]
    assert _get(intake, f"/organizations/{ours['id']}")["name"] == ours["name"]


def test_a_service_is_fully_nested_and_a_shelter_stays_coarse(
        intake: Intake, imported: dict[str, Any]) -> None:
    shelter = imported["organizations"][0]
    service = _get(intake, f"/services/{shelter['services'][0]['id']}")
    assert hsds31.problems(hsds31.SERVICE, service) == []
    assert service["organization"]["id"] == shelter["id"]
    location = service["service_at_locations"][0]["location"]
    assert location["addresses"] == [] and location["latitude"] == 52.4
    listed = _get(intake, "/services", organization_id=shelter["id"])
    assert [s["id"] for s in listed["contents"]] == [service["id"]]


def test_the_haven_taxonomy_and_its_terms(intake: Intake) -> None:
    taxonomies = _get(intake, "/taxonomies")
    assert [t["name"] for t in taxonomies["contents"]] == ["haven"]
    terms = _get(intake, "/taxonomy_terms", per_page=100)["contents"]
    assert all(hsds31.problems(hsds31.TAXONOMY_TERM, term) == [] for term in terms)
    assert {term["code"] for term in terms} >= {"service_type", "region", "waitlist_length"}


def test_members_only_and_unknown_ids_answer_404(intake: Intake) -> None:
    assert intake.client.get("/api/v1/hsds/services").status_code == 401
    missing = intake.client.get(f"/api/v1/hsds/services/{uuid.uuid4()}",
                                headers=intake.members["provider"].headers)
    assert missing.status_code == 404 and "No service" in missing.json()["detail"]
