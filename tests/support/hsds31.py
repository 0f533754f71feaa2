"""HSDS 3.1's rules for the objects Haven exports, written from the specification's facts.

Source: openreferral/specification, branch 3.1, `schema/compiled/organization.json`
(the `required` lists, `format`s and `enum`s of each nested object) and the
schema docs. The specification's files are not copied into the project (CI has no
network and they are not ours to vendor); this is the subset that applies to what
Haven writes, checked with `jsonschema`. Additional properties are allowed, as in
the specification.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from jsonschema import Draft202012Validator, FormatChecker

UUID = {"type": "string", "format": "uuid"}
TEXT = {"type": "string"}
NUMBER = {"type": "number"}
EMAIL = {"type": "string", "format": "email"}
URI = {"type": "string", "format": "uri"}
DATE_TIME = {"type": "string", "format": "date-time"}
LOCATION_TYPE = {"type": "string", "enum": ["physical", "postal", "virtual"]}


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _array(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


TAXONOMY = _object(["id", "name", "description"], id=UUID, name=TEXT, description=TEXT,
                   uri=URI, version=TEXT)
TAXONOMY_TERM = _object(["id", "name", "description"], id=UUID, code=TEXT, name=TEXT,
                        description=TEXT, parent_id=UUID, taxonomy=TEXT,
                        taxonomy_detail=TAXONOMY, taxonomy_id=UUID, term_uri=URI)
ATTRIBUTES = _array(_object(["id"], id=UUID, link_id=UUID, taxonomy_term_id=UUID, value=TEXT,
                            taxonomy_term=TAXONOMY_TERM))
PHONES = _array(_object(["id", "number"], id=UUID, number=TEXT, attributes=ATTRIBUTES))
CONTACTS = _array(_object(["id"], id=UUID, name=TEXT, title=TEXT, email=EMAIL, phones=PHONES,
                          attributes=ATTRIBUTES))
ADDRESSES = _array(_object(
    ["id", "address_1", "city", "state_province", "postal_code", "country", "address_type"],
    id=UUID, location_id=UUID, address_1=TEXT, city=TEXT, state_province=TEXT,
    postal_code=TEXT, country=TEXT, address_type=LOCATION_TYPE, attributes=ATTRIBUTES))
LOCATION = _object(["id", "location_type"], id=UUID, location_type=LOCATION_TYPE, url=URI,
                   organization_id=UUID, name=TEXT, latitude=NUMBER, longitude=NUMBER,
                   addresses=ADDRESSES, contacts=CONTACTS, phones=PHONES,
                   attributes=ATTRIBUTES)
UNIT = _object(["id", "name"], id=UUID, name=TEXT, uri=URI, attributes=ATTRIBUTES)
CAPACITIES = _array(_object(["id", "unit", "available", "updated"], id=UUID, service_id=UUID,
                            unit=UNIT, unit_id=UUID, available=NUMBER, maximum=NUMBER,
                            updated=DATE_TIME, attributes=ATTRIBUTES))
SERVICE = _object(
    ["id", "name", "status"], id=UUID, organization_id=UUID, name=TEXT, description=TEXT,
    url=URI, email=EMAIL,
    status={"type": "string", "enum": ["active", "inactive", "defunct", "temporarily closed"]},
    minimum_age=NUMBER, maximum_age=NUMBER, last_modified=DATE_TIME,
    languages=_array(_object(["id"], id=UUID, name=TEXT, code=TEXT, attributes=ATTRIBUTES)),
    service_areas=_array(_object(["id"], id=UUID, name=TEXT, description=TEXT,
                                 attributes=ATTRIBUTES)),
    schedules=_array(_object(["id"], id=UUID, byday=TEXT, opens_at=TEXT, closes_at=TEXT,
                             description=TEXT, attributes=ATTRIBUTES)),
    contacts=CONTACTS, phones=PHONES,
    service_at_locations=_array(_object(["id"], id=UUID, service_id=UUID, location_id=UUID,
                                        location=LOCATION, attributes=ATTRIBUTES)),
    capacities=CAPACITIES, attributes=ATTRIBUTES)
ORGANIZATION = _object(["id", "name", "description"], id=UUID, name=TEXT, description=TEXT,
                       email=EMAIL, website=URI, uri=URI, parent_organization_id=UUID,
                       contacts=CONTACTS, phones=PHONES, locations=_array(LOCATION),
                       services=_array(SERVICE), attributes=ATTRIBUTES)

_formats = FormatChecker(formats=["uuid", "email"])


@_formats.checks("uri", raises=ValueError)
def _is_uri(value: object) -> bool:
    """RFC 3986 absolute URI: a scheme and something after it (HSDS `format: uri`)."""
    if not isinstance(value, str):
        return True
    parsed = urlparse(value)
    return bool(parsed.scheme) and bool(parsed.netloc or parsed.path)


@_formats.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    """RFC 3339: a full date and time with its offset."""
    return not isinstance(value, str) or (
        "T" in value.upper() and datetime.fromisoformat(value).tzinfo is not None)


def problems(schema: dict[str, Any], document: object) -> list[str]:
    """Every violation of `schema`, as 'path: message' (empty when the document conforms)."""
    validator = Draft202012Validator(schema, format_checker=_formats)
    return sorted(f"{error.json_path}: {error.message}"
                  for error in validator.iter_errors(document))


def organization_problems(organization: object) -> list[str]:
    """HSDS 3.1 `organization` (full representation) violations."""
    return problems(ORGANIZATION, organization)


def empty_optional_strings(value: object, path: str = "$") -> list[str]:
    """Paths of optional text left as "": HSDS tools read it as a value, so leave it out.

    Required text (an organization's `description`, an address's parts) may be empty.
    """
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if item == "" and key not in _MAY_BE_EMPTY:
                found.append(f"{path}.{key}")
            found += empty_optional_strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += empty_optional_strings(item, f"{path}[{index}]")
    return found


_MAY_BE_EMPTY = {"description", "address_1", "city", "state_province", "postal_code", "value"}
