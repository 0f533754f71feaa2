"""HSDS's tabular form imports: a CSV data package written by hand after the
specification's `examples/csv/` (its column headers, its links by `*_id`), through
the API as a zip and through the CLI as a folder."""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support import hsds31
from tests.support.intake import Intake

ORG, LOC, SVC = (str(uuid.uuid5(uuid.NAMESPACE_URL, f"tabular-{n}")) for n in ("o", "l", "s"))
TERM, UNIT = (str(uuid.uuid5(uuid.NAMESPACE_URL, f"tabular-{n}")) for n in ("t", "u"))


def _tables(org: str = ORG, loc: str = LOC, svc: str = SVC) -> dict[str, str]:
    return {
        "organizations": "id,name,alternate_name,description,email,website,tax_status\n"
                         f"{org},Tabular Tool Centre {org[:6]},TTC,From a CSV package,"
                         "info@example.com,http://example.com,501c3\n",
        "locations": "id,location_type,url,organization_id,name,alternate_name,description,"
                     "transportation,latitude,longitude\n"
                     f"{loc},physical,,{org},Civic Centre,,,Bus 42,52.09,5.12\n",
        "addresses": "id,location_id,attention,address_1,address_2,city,region,"
                     "state_province,postal_code,country,address_type\n"
                     f"{uuid.uuid4()},{loc},,1 Main Street,,Utrecht,,utrecht,3511 AA,NL,"
                     "physical\n",
        "services": "id,organization_id,program_id,name,alternate_name,description,url,email,"
                    "status,minimum_age,maximum_age\n"
                    f"{svc},{org},,Legal advice,,Walk-in legal advice,,,active,18,\n",
        "service_at_location": f"id,service_id,location_id,description\n"
                               f"{uuid.uuid4()},{svc},{loc},\n",
        "schedules": "id,service_id,location_id,service_at_location_id,freq,byday,opens_at,"
                     "closes_at,description\n"
                     f"{uuid.uuid4()},{svc},,,WEEKLY,\"MO,WE\",09:30:00,17:00:00,Walk-in\n",
        "languages": f"id,service_id,location_id,phone_id,name,code,note\n"
                     f"{uuid.uuid4()},{svc},,,Dutch,nl,\n",
        "service_areas": f"id,service_id,service_at_location_id,name,description\n"
                         f"{uuid.uuid4()},{svc},,utrecht,The province\n",
        "service_capacity": "id,service_id,unit_id,available,maximum,description,updated\n"
                            f"{uuid.uuid4()},{svc},{UNIT},2,6,,2026-12-01T09:00:00+01:00\n",
        "units": f"id,name,scheme,identifier,uri\n{UNIT},appointment,,,\n",
        "taxonomy_terms": "id,code,name,description,parent_id,taxonomy,language,taxonomy_id\n"
                          f"{TERM},service_type,service_type,Haven service type,,haven,,\n",
        "attributes": "id,link_id,taxonomy_term_id,link_type,link_entity,value,label\n"
                      f"{uuid.uuid4()},{svc},{TERM},,service,legal_aid,\n",
        "funding": f"id,organization_id,service_id,source\n{uuid.uuid4()},{org},,Council\n",
    }


def _zip(tables: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in tables.items():
            archive.writestr(f"package/{name}.csv", text)
    return buffer.getvalue()


def test_a_zipped_data_package_imports_through_the_api(intake: Intake) -> None:
    admin = intake.members["admin"].headers
    answer = intake.client.post("/api/v1/directory/hsds/tabular", headers=admin,
                                files={"file": ("package.zip", _zip(_tables()),
                                                "application/zip")})
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "imported", answer.json()
    service = intake.client.get(f"/api/v1/hsds/services/{SVC}", headers=admin).json()
    assert hsds31.problems(hsds31.SERVICE, service) == []
    assert [(s["byday"], s["opens_at"]) for s in service["schedules"]] == [("MO,WE", "09:30")]
    assert (service["capacities"][0]["available"], service["capacities"][0]["unit"]["name"]
            ) == (2, "appointment")
    assert service["service_at_locations"][0]["location"]["addresses"][0]["city"] == "Utrecht"
    assert [lang["code"] for lang in service["languages"]] == ["nl"]


def test_a_file_that_is_not_a_package_is_refused_clearly(intake: Intake) -> None:
    answer = intake.client.post("/api/v1/directory/hsds/tabular",
                                headers=intake.members["admin"].headers,
                                files={"file": ("package.zip", b"not a zip", "application/zip")})
    assert answer.status_code == 422 and "zip" in answer.json()["detail"]


def test_a_package_folder_imports_through_the_cli(
        intake: Intake, database_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from services.cli import app as cli
    from shared.identity import ensure_service_keys
    from shared.settings import RuntimeSettings

    org, loc, svc = (str(uuid.uuid4()) for _ in range(3))
    for name, text in _tables(org, loc, svc).items():
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("HAVEN_VAR_DIR", str(tmp_path / "var"))
    ensure_service_keys(RuntimeSettings(var_dir=tmp_path / "var"))
    result = CliRunner().invoke(cli, ["directory", "import", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "imported: 1 organizations" in result.output
    found = intake.client.get(f"/api/v1/hsds/organizations/{org}",
                              headers=intake.members["admin"].headers)
    assert found.status_code == 200 and found.json()["services"][0]["id"] == svc
