"""HSDS import and export: a round trip keeps the directory; bad records say where they fail."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from services.intake.db import create_db_engine, migrate
from services.intake.directory import hsds
from services.intake.directory.models import Capacity
from services.intake.directory.seed import seed_demo_network
from shared.identity import private_store
from shared.settings import RuntimeSettings
from tests.support.intake import Intake


def _seeded(intake: Intake, tmp_path: Path) -> dict[str, Any]:
    """A small demo network in the test's database (once per module), exported."""
    app = intake.client.app
    with Session(app.state.engine) as session:  # type: ignore[attr-defined]
        seed_demo_network(session=session, ports=app.state.ports,  # type: ignore[attr-defined]
                          now=datetime.now(UTC), providers=6,
                          namespace=uuid.UUID("00000000-0000-4000-8000-00000000d1ec"),
                          keys=lambda owner: private_store(RuntimeSettings(var_dir=tmp_path),
                                                           owner))
        session.commit()
        return hsds.export_directory(session)


def _versions(intake: Intake) -> dict[uuid.UUID, int]:
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        return {row.service_id: row.version for row in session.exec(select(Capacity))}


def test_export_then_import_gives_the_same_directory(intake: Intake, tmp_path: Path) -> None:
    exported = _seeded(intake, tmp_path)
    assert sum(len(org["services"]) for org in exported["organizations"]) >= 6
    empty = create_db_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    migrate(empty)
    ports = intake.client.app.state.ports  # type: ignore[attr-defined]
    with Session(empty) as session:
        report = hsds.import_directory(session=session, ports=ports, document=exported,
                                       now=datetime.now(UTC))
        session.commit()
        assert report.rejected == [] and report.outcome == "imported"
        assert hsds.export_directory(session) == exported
    empty.dispose()

    before = _versions(intake)
    answer = intake.client.post("/api/v1/directory/hsds", json=exported,
                                headers=intake.members["admin"].headers)
    assert answer.status_code == 200 and answer.json()["outcome"] == "imported"
    again = intake.client.get("/api/v1/directory/hsds", headers=intake.members["admin"].headers)
    assert again.json() == exported
    assert _versions(intake) == before  # nothing changed, so no capacity event either


def _document(intake: Intake, tmp_path: Path) -> dict[str, Any]:
    exported = _seeded(intake, tmp_path)
    provider = next(org for org in exported["organizations"] if org["services"])
    return {"organizations": [copy.deepcopy(provider)]}


def test_invalid_records_are_rejected_with_the_path_of_each_error(
        intake: Intake, tmp_path: Path) -> None:
    document = _document(intake, tmp_path)
    good = document["organizations"][0]
    bad = copy.deepcopy(good)
    bad["id"] = str(uuid.uuid4())
    bad["name"] = "Test organization with errors"
    bad["locations"][0]["latitude"] = 123
    bad["services"][0]["minimum_age"] = "old"
    bad["services"][0]["attributes"][0]["value"] = "spa"
    wrong_location = copy.deepcopy(good)
    wrong_location["id"] = str(uuid.uuid4())
    wrong_location["name"] = "Test organization pointing elsewhere"
    wrong_location["locations"] = []
    document["organizations"] += [bad, wrong_location, "not an object"]

    answer = intake.client.post("/api/v1/directory/hsds", json=document,
                                headers=intake.members["admin"].headers)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["outcome"] == "partly_imported" and report["organizations"] == 1
    paths = {problem["path"] for problem in report["rejected"]}
    assert "organizations[1].locations[0].latitude" in paths
    assert "organizations[1].services[0].minimum_age" in paths
    assert "organizations[2].services[0].service_at_locations[0].location_id" in paths
    assert "organizations[3]" in paths
    assert any("belongs to another organization" in p["message"] for p in report["rejected"])


def test_a_document_without_organizations_is_refused_clearly(intake: Intake) -> None:
    for body in ({"services": []}, {"organizations": "all"}):
        answer = intake.client.post("/api/v1/directory/hsds", json=body,
                                    headers=intake.members["admin"].headers)
        assert answer.status_code == 422
        assert "organizations" in answer.json()["detail"]


def test_only_admins_import(intake: Intake) -> None:
    answer = intake.client.post("/api/v1/directory/hsds", json={"organizations": []},
                                headers=intake.members["provider"].headers)
    assert answer.status_code == 403
