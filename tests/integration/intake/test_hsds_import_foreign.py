"""HSDS that other tools write imports: documents written by hand after the
specification's examples (openreferral/specification, `examples/organization_full.json`),
not by Haven's exporter. They nest locations in service_at_location, write times
with seconds, carry long text and fields Haven does not use."""

from __future__ import annotations

import copy

import pytest

from tests.support import hsds31
from tests.support.hsds_documents import AREA, LOCATION, ORG, organization_document
from tests.support.intake import Intake


@pytest.mark.parametrize("version", ["3.0", "3.1"])
def test_a_document_from_another_tool_imports_and_exports_again(
        intake: Intake, version: str) -> None:
    document = organization_document(version)
    admin = intake.members["admin"].headers
    answer = intake.client.post("/api/v1/directory/hsds", json=document, headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "imported", answer.json()
    assert (answer.json()["organizations"], answer.json()["locations"]) == (1, 1)

    exported = intake.client.get("/api/v1/directory/hsds", headers=admin).json()
    ours = next(org for org in exported["organizations"] if org["id"] == ORG)
    assert hsds31.organization_problems(ours) == []
    service = ours["services"][0]
    assert (ours["email"], ours["website"]) == ("info@example.com", "http://example.com")
    assert service["service_areas"][0]["name"] == AREA
    assert [(s["byday"], s["opens_at"], s["closes_at"]) for s in service["schedules"]] == [
        ("MO,TU,WE", "10:00", "18:00")]
    assert [lang["code"] for lang in service["languages"]] == ["ur"]
    assert service["service_at_locations"][0]["location_id"] == LOCATION
    assert ours["locations"][0]["addresses"][0]["city"] == "MyCity"
    assert ours["locations"][0]["addresses"][0]["state_province"] == "noord-holland"
    assert service["contacts"][0]["phones"][0]["number"] == "+31 20 555 0100"
    assert (service["minimum_age"], service["maximum_age"]) == (18, 99)
    if version == "3.1":
        capacity = service["capacities"][0]
        assert (capacity["available"], capacity["maximum"], capacity["unit"]["name"]) == (
            4, 10, "place")


def test_an_organization_whose_service_names_no_location_says_so(intake: Intake) -> None:
    document = organization_document("3.1")
    broken = copy.deepcopy(document["organizations"][0])
    broken["services"][0]["service_at_locations"] = [{"id": "e94c9f38-1e8f-4564-91d4-"
                                                             "d53501ab1766"}]
    answer = intake.client.post("/api/v1/directory/hsds", json={"organizations": [broken]},
                                headers=intake.members["admin"].headers)
    assert answer.status_code == 200
    problems = answer.json()["rejected"]
    assert [p["path"] for p in problems] == ["organizations[0].services[0]."
                                             "service_at_locations[0]"]
    assert "location_id" in problems[0]["message"]
