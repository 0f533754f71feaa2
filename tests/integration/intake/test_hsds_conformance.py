"""The HSDS export conforms to HSDS 3.1 (the demo network, every organization), and
the conformance check itself fails when any one rule is broken."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session

from services.intake.directory.seed import seed_demo_network
from shared.identity import private_store
from shared.settings import RuntimeSettings
from tests.support import hsds31
from tests.support.intake import Intake


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite only: the export reads the same rows on both databases, and seeding the
    whole demo network (a staff user per provider, argon2 each) costs ~15 s a database."""
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'conformance.sqlite3'}"


@pytest.fixture(scope="module")
def exported(intake: Intake, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The whole demo network, seeded once per module and exported through the API."""
    app = intake.client.app
    var = tmp_path_factory.mktemp("keys")
    with Session(app.state.engine) as session:  # type: ignore[attr-defined]
        seed_demo_network(session=session, ports=app.state.ports,  # type: ignore[attr-defined]
                          now=datetime.now(UTC),
                          namespace=uuid.UUID("00000000-0000-4000-8000-0000000c0f0f"),
                          keys=lambda owner: private_store(RuntimeSettings(var_dir=var), owner))
        session.commit()
    answer = intake.client.get("/api/v1/directory/hsds", headers=intake.members["admin"].headers)
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def test_every_organization_of_the_demo_network_conforms(exported: dict[str, Any]) -> None:
    organizations = exported["organizations"]
    assert len(organizations) >= 70
    assert sum(len(org["services"]) for org in organizations) >= 64
    failures = {org["name"]: hsds31.organization_problems(org) for org in organizations}
    assert {name: found for name, found in failures.items() if found} == {}
    assert hsds31.empty_optional_strings(organizations) == []


def test_the_haven_taxonomy_is_published_with_every_term_used(
        exported: dict[str, Any]) -> None:
    assert [hsds31.problems(hsds31.TAXONOMY, t) for t in exported["taxonomies"]] == [[]]
    assert all(hsds31.problems(hsds31.TAXONOMY_TERM, t) == []
               for t in exported["taxonomy_terms"])
    published = {term["id"] for term in exported["taxonomy_terms"]}
    taxonomy_id = exported["taxonomies"][0]["id"]
    used = set()
    for org in exported["organizations"]:
        for attribute in _attributes(org):
            used.add(attribute["taxonomy_term"]["id"])
            assert attribute["taxonomy_term_id"] == attribute["taxonomy_term"]["id"]
            assert attribute["taxonomy_term"]["taxonomy_id"] == taxonomy_id
    assert used <= published and len(used) >= 10


def test_a_second_export_is_identical(intake: Intake, exported: dict[str, Any]) -> None:
    again = intake.client.get("/api/v1/directory/hsds", headers=intake.members["admin"].headers)
    assert again.json() == exported
    ids = [value for org in exported["organizations"] for value in _ids(org)]
    assert len(ids) == len(set(ids)), "nested ids must not repeat"


def _attributes(value: object) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [a for item in value for a in _attributes(item)]
    if not isinstance(value, dict):
        return []
    own = value.get("attributes", [])
    return own + [a for key, item in value.items() if key != "attributes"
                  for a in _attributes(item)]


def _ids(value: object) -> list[str]:
    if isinstance(value, list):
        return [i for item in value for i in _ids(item)]
    if not isinstance(value, dict):
        return []
    own = [value["id"]] if "id" in value and "taxonomy_id" not in value else []
    return own + [i for key, item in value.items() if key not in {"taxonomy_term", "unit"}
                  for i in _ids(item)]


def _org_with_everything(exported: dict[str, Any]) -> dict[str, Any]:
    return next(org for org in exported["organizations"]
                if any(s["languages"] and s["contacts"] and s["service_areas"]
                       for s in org["services"])
                and any(loc["addresses"] for loc in org["locations"]))


def _full_service(org: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in org["services"]
                if s["languages"] and s["contacts"] and s["service_areas"])


def _address(org: dict[str, Any]) -> dict[str, Any]:
    return next(loc for loc in org["locations"] if loc["addresses"])["addresses"][0]


Break = Callable[[dict[str, Any]], None]
BREAKS: dict[str, Break] = {
    "organization id": lambda o: o.pop("id"),
    "organization description": lambda o: o.pop("description"),
    "organization email format": lambda o: o.update(email=""),
    "organization website format": lambda o: o.update(website=""),
    "organization attribute id": lambda o: o["attributes"][0].pop("id"),
    "taxonomy term name": lambda o: o["attributes"][0]["taxonomy_term"].pop("name"),
    "taxonomy term description":
        lambda o: o["attributes"][0]["taxonomy_term"].pop("description"),
    "taxonomy term id": lambda o: o["attributes"][0]["taxonomy_term"].pop("id"),
    "location type": lambda o: o["locations"][0].pop("location_type"),
    "address id": lambda o: _address(o).pop("id"),
    "address state_province": lambda o: _address(o).pop("state_province"),
    "address type": lambda o: _address(o).update(address_type="home"),
    "service status": lambda o: _full_service(o).pop("status"),
    "service name": lambda o: _full_service(o).pop("name"),
    "language id": lambda o: _full_service(o)["languages"][0].pop("id"),
    "service area id": lambda o: _full_service(o)["service_areas"][0].pop("id"),
    "schedule id": lambda o: _full_service(o)["schedules"][0].pop("id"),
    "contact id": lambda o: _full_service(o)["contacts"][0].pop("id"),
    "contact email format": lambda o: _full_service(o)["contacts"][0].update(email="staff"),
    "service_at_location id": lambda o: _full_service(o)["service_at_locations"][0].pop("id"),
    "capacity id": lambda o: _full_service(o)["capacities"][0].pop("id"),
    "capacity updated": lambda o: _full_service(o)["capacities"][0].pop("updated"),
    "capacity updated format":
        lambda o: _full_service(o)["capacities"][0].update(updated="yesterday"),
    "capacity available": lambda o: _full_service(o)["capacities"][0].pop("available"),
    "unit id": lambda o: _full_service(o)["capacities"][0]["unit"].pop("id"),
    "unit name": lambda o: _full_service(o)["capacities"][0]["unit"].pop("name"),
    "id format": lambda o: _full_service(o).update(id="service-1"),
}


@pytest.mark.parametrize("rule", sorted(BREAKS))
def test_the_check_fails_when_one_rule_is_broken(exported: dict[str, Any], rule: str) -> None:
    organization = copy.deepcopy(_org_with_everything(exported))
    assert hsds31.organization_problems(organization) == []
    BREAKS[rule](organization)
    assert hsds31.organization_problems(organization) != []


def test_an_empty_optional_string_is_found() -> None:
    assert hsds31.empty_optional_strings({"services": [{"email": "", "description": ""}]}) == [
        "$.services[0].email"]

