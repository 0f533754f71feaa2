"""HSDS's tabular form (the CSV data package) -> the full representation the import reads.

Each table is a CSV file named as in the specification (`organizations.csv`,
`services.csv`, `locations.csv`, `addresses.csv`, `service_at_location.csv`, ...),
linked by `*_id` columns; attributes point at their record with `link_id` and at a
row of `taxonomy_terms.csv`. Nesting them gives the same document another tool's
JSON export would, so one validation path (`hsds.import_directory`) checks both.
Empty cells are absent fields; numbers are converted where HSDS says number.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

Rows = list[dict[str, Any]]
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
_NUMBERS = {"latitude": float, "longitude": float, "minimum_age": int, "maximum_age": int,
            "available": int, "maximum": int}


class TabularProblem(ValueError):
    """The package cannot be read as HSDS tables (a 422 with the reason)."""


def _clean(row: Mapping[str, str | None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, raw in row.items():
        value = (raw or "").strip()
        if not name or not value:
            continue
        convert = _NUMBERS.get(name)
        try:
            out[name] = convert(value) if convert else value
        except ValueError:
            out[name] = value  # left as text: the import names the field and the problem
    return out


def read_csv(text: str) -> Rows:
    """One table's rows, without empty cells."""
    return [_clean(row) for row in csv.DictReader(io.StringIO(text))]


def read_zip(data: bytes) -> dict[str, Rows]:
    """The tables of a zipped data package (`*.csv` at any depth)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as error:
        raise TabularProblem("file: not a zip archive of HSDS CSV tables") from error
    entries = [e for e in archive.infolist() if e.filename.endswith(".csv")]
    if sum(e.file_size for e in entries) > MAX_UNPACKED_BYTES:
        raise TabularProblem("file: the tables unpack to more than 64 MB; split the package")
    return {Path(e.filename).stem: read_csv(_text(archive.read(e), e.filename))
            for e in entries}


def read_folder(folder: Path) -> dict[str, Rows]:
    """The tables of a data package folder."""
    return {path.stem: read_csv(_text(path.read_bytes(), path.name))
            for path in sorted(folder.glob("*.csv"))}


def _text(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise TabularProblem(f"{name}: not UTF-8 text") from error


def _by(rows: Iterable[dict[str, Any]], column: str) -> dict[str, Rows]:
    grouped: dict[str, Rows] = defaultdict(list)
    for row in rows:
        if column in row:
            grouped[row[column]].append(row)
    return grouped


def nest(tables: Mapping[str, Rows]) -> dict[str, Any]:
    """The full (nested) representation of the tables, ready for `import_directory`."""
    if not tables.get("organizations"):
        raise TabularProblem("organizations.csv: the package needs at least one organization")
    table = defaultdict(list, tables)
    terms = {row["id"]: row for row in table["taxonomy_terms"] if "id" in row}
    units = {row["id"]: row for row in table["units"] if "id" in row}
    attributes = _by(({**row, "taxonomy_term": terms.get(row.get("taxonomy_term_id", ""), {})}
                      for row in table["attributes"]), "link_id")
    phones = _by(table["phones"], "contact_id")

    def with_attributes(row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "attributes": attributes.get(row.get("id", ""), [])}

    addresses = _by(table["addresses"], "location_id")
    locations = _by((with_attributes({**row, "addresses": addresses.get(row.get("id", ""), [])})
                     for row in table["locations"]), "organization_id")
    per_service = {name: _by(table[name], "service_id")
                   for name in ("languages", "service_areas", "schedules",
                                "service_at_location", "service_capacity")}
    contacts = _by(({**row, "phones": phones.get(row.get("id", ""), [])}
                    for row in table["contacts"]), "service_id")

    def service(row: dict[str, Any]) -> dict[str, Any]:
        key = row.get("id", "")
        return with_attributes({
            **row, "languages": per_service["languages"].get(key, []),
            "service_areas": per_service["service_areas"].get(key, []),
            "schedules": per_service["schedules"].get(key, []),
            "contacts": contacts.get(key, []),
            "service_at_locations": per_service["service_at_location"].get(key, []),
            "capacities": [{**c, "unit": units.get(c.get("unit_id", ""), {})}
                           for c in per_service["service_capacity"].get(key, [])]})

    services = _by((service(row) for row in table["services"]), "organization_id")
    organizations = [with_attributes({**row, "locations": locations.get(row.get("id", ""), []),
                                      "services": services.get(row.get("id", ""), [])})
                     for row in table["organizations"]]
    return {"hsds_version": "3.1", "organizations": organizations}
