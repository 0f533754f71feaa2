"""HSDS documents as other tools write them, by hand after the specification's examples
(openreferral/specification, branch 3.1, `examples/organization_full.json`), not by
Haven's exporter: nested service_at_location.location, times with seconds, long text,
fields and taxonomies Haven does not use."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

ORG = "8e5b2f1c-6b0a-4f7e-9d55-3f1f8b0c7a01"
LOCATION = "3a19ff88-4620-4d17-9830-ac1d859eb5d5"
SERVICE = "ac148810-d857-441c-9679-408f346de14b"
AREA = ("The service is available to all residents of the MyCity area. We provide the "
        "service in our offices or via video conferencing to any who can provide evidence "
        "of their residency.")


def organization_document(version: str) -> dict[str, Any]:
    """An organization in HSDS's full representation, as the specification's example has it."""
    service: dict[str, Any] = {
        "id": SERVICE, "name": "Community Counselling", "alternate_name": "MyCity Counselling",
        "description": "Counselling services provided by trained professionals.",
        "url": "http://example.com/counselling", "email": "counselling@example.com",
        "status": "active", "fees_description": "Free", "minimum_age": 18,
        "maximum_age": 99, "last_modified": "2023-03-15T10:30:45.123Z",
        "languages": [{"id": "2989d3ed-c547-48f8-8f9d-432d81c7892e", "name": "Urdu",
                       "code": "ur", "note": "via bilingual staff"}],
        "service_areas": [{"id": "381c64f1-a724-4884-9c21-ac96c21cca3e", "name": AREA,
                           "extent_type": "geojson", "extent": "extent"}],
        "schedules": [
            {"id": "48102e86-bb50-41c4-8f1e-e269368c41d1", "freq": "WEEKLY", "wkst": "MO",
             "byday": "MO,TU,WE", "opens_at": "10:00:00", "closes_at": "18:00:00",
             "description": "Weekdays, 10 to 6", "valid_from": "2005-01-01"},
            {"id": "0e4a9c36-2b89-4f43-9d51-0a4a6a3f7f10", "freq": "MONTHLY",
             "bymonthday": "2,3,4", "description": "A monthly drop-in"}],
        "contacts": [{"id": "d4a3b2c1-0f9e-4d8c-b7a6-958473625140", "name": "Mary Smith",
                      "title": "Counsellor", "department": "Counselling",
                      "email": "mary@example.com",
                      "phones": [{"id": "e1f2a3b4-c5d6-4e7f-8091-a2b3c4d5e6f7",
                                  "number": "+31 20 555 0100", "type": "voice"}]}],
        "service_at_locations": [{
            "id": "e94c9f38-1e8f-4564-91d4-d53501ab1765", "description": "At the centre",
            "location": {
                "id": LOCATION, "location_type": "physical", "name": "MyCity Civic Center",
                "alternate_name": "Civic Center", "latitude": 52.37, "longitude": 4.895,
                "transportation": "Bus 42", "url": "http://example.com",
                "addresses": [{"id": "74706e55-df26-4b84-80fe-ecc30b5befb4",
                               "attention": "A. Persona", "address_1": "1-30 Main Street",
                               "address_2": "MyVillage", "city": "MyCity",
                               "region": "MyRegion", "state_province": "noord-holland",
                               "postal_code": "1011 AB", "country": "NL",
                               "address_type": "physical"}]}}],
        "funding": [{"id": "8d5f7c1a-1b2c-4d3e-9f80-112233445566", "source": "Council"}],
        "attributes": [
            {"id": "ae58cc39-8b70-4ab1-8aea-786882e5ac8e", "value": "counselling",
             "taxonomy_term": {"id": "3f7b145d-84af-42d7-8fae-eaca714b02b2",
                               "code": "service_type", "name": "service_type",
                               "description": "Haven service type", "taxonomy": "haven"}},
            {"id": "5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "value": "yes",
             "taxonomy_term": {"id": "0bc248fa-dc27-4650-9ba4-8f1a24ef16a2",
                               "code": "LF-7000", "name": "Legal Services",
                               "description": "A term of another taxonomy",
                               "taxonomy": "Open Eligibility"}}],
    }
    if version == "3.1":
        service["capacities"] = [{
            "id": "8896b788-7b3e-11ef-8db9-7f3d040352b3",
            "unit": {"id": "8896b788-7b3e-11ef-8db9-7f3d040352b4", "name": "place",
                     "scheme": "SI", "identifier": "plc"},
            "available": 4, "maximum": 10, "description": "Places open",
            "updated": "2024-09-25T14:23:06.5+01:00"}]
    organization = {
        "id": ORG, "name": "Another Tool's Counselling Centre", "alternate_name": "ATCC",
        "description": "Written by hand after the HSDS specification's example.",
        "email": "info@example.com", "website": "http://example.com", "tax_status": "501c3",
        "year_incorporated": 2011, "legal_status": "Limited Company",
        "additional_websites": [{"id": "7c1b0b3f-13f4-4a0d-97a5-1f1e1d1c1b1a",
                                 "url": "http://example.org"}],
        "organization_identifiers": [{"id": "0c6e3c2b-2a1f-4e0d-9c8b-7a6f5e4d3c2b",
                                      "identifier_type": "Company number",
                                      "identifier": "12345"}],
        "metadata": [{"id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
                      "last_action_date": "2024-01-01", "last_action_type": "create",
                      "field_name": "name", "previous_value": "", "replacement_value": "x",
                      "updated_by": "tool"}],
        "services": [service],
    }
    return {"hsds_version": version, "organizations": [organization]}



def directory(count: int, *, namespace: uuid.UUID) -> dict[str, Any]:
    """`count` distinct organizations of that shape (ids and names made unique)."""
    template = json.dumps(organization_document("3.1")["organizations"][0])
    ids = set(_uuids(json.loads(template)))
    organizations = []
    for index in range(count):
        text = template
        for value in ids:
            text = text.replace(value, str(uuid.uuid5(namespace, f"{index}:{value}")))
        organization = json.loads(text)
        organization["name"] = f"Another Tool's Centre {namespace.hex[:6]} {index:03d}"
        organizations.append(organization)
    return {"hsds_version": "3.1", "organizations": copy.deepcopy(organizations)}


def _uuids(value: object) -> list[str]:
    if isinstance(value, dict):
        own = [value["id"]] if isinstance(value.get("id"), str) else []
        return own + [i for item in value.values() for i in _uuids(item)]
    if isinstance(value, list):
        return [i for item in value for i in _uuids(item)]
    return []
