"""A real directory imports through the API while referrals come in, and an import that
fails half-way leaves nothing behind, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from services.intake.directory import hsds
from services.intake.models import Organization
from shared.identity import ensure_service_keys
from shared.settings import RuntimeSettings
from tests.support.hsds_documents import directory
from tests.support.intake import Intake, referral_body

# The imported organizations' region (their state_province): a referral's region must be
# one the directory has (issue 19), and the import makes it so.
IMPORTED_REGION_REFERRAL = referral_body(location={"region": "noord-holland"})


@contextmanager
def referrals_arriving(intake: Intake) -> Iterator[list[int]]:
    """An outreach worker submitting referrals until the block ends (at least one);
    yields the status codes intake answered."""
    answers: list[int] = []
    done = threading.Event()

    def submit() -> None:
        outreach = intake.members["outreach"].headers
        while not done.is_set() or not answers:
            answers.append(intake.client.post("/api/v1/referrals", json=IMPORTED_REGION_REFERRAL,
                                              headers=outreach).status_code)

    worker = threading.Thread(target=submit)
    worker.start()
    try:
        yield answers
    finally:
        done.set()
        worker.join(timeout=60)


def test_a_directory_of_110_organizations_imports_while_referrals_arrive(
        intake: Intake) -> None:
    document = directory(110, namespace=uuid.uuid4())
    assert len(json.dumps(document)) > 384 * 1024  # well over the limit meant for referrals
    with referrals_arriving(intake) as answers:
        answer = intake.client.post("/api/v1/directory/hsds", json=document,
                                    headers=intake.members["admin"].headers)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["outcome"], answer.json()["organizations"]) == ("imported", 110)
    assert answers and set(answers) <= {201, 503}, answers
    assert 201 in answers


def test_a_document_over_the_import_limit_is_refused_with_advice(intake: Intake) -> None:
    headers = {**intake.members["admin"].headers, "content-type": "application/json",
               "content-length": str(17 * 1024 * 1024)}
    answer = intake.client.post("/api/v1/directory/hsds", content=b"{}", headers=headers)
    assert answer.status_code == 413
    assert "16 MB" in answer.json()["detail"] and "Split" in answer.json()["detail"]


class _FailingCodec:
    """Intake's real codec that breaks on the Nth organization event (a crash half-way)."""

    def __init__(self, codec: Any, *, fail_at: int) -> None:
        self.codec = codec
        self.fail_at = fail_at
        self.organizations = 0

    def encode_all(self, event: Any) -> Iterator[Any]:
        if type(event).__name__ == "OrganizationUpserted":
            self.organizations += 1
            if self.organizations == self.fail_at:
                raise RuntimeError("the import broke half-way")
        return iter(self.codec.encode_all(event))


def test_an_import_that_fails_half_way_leaves_nothing(intake: Intake) -> None:
    document = directory(8, namespace=uuid.uuid4())
    names = [org["name"] for org in document["organizations"]]
    app = intake.client.app
    ports = app.state.ports  # type: ignore[attr-defined]
    failing = replace(ports, codec=_FailingCodec(ports.codec, fail_at=6))
    with Session(app.state.engine) as session:  # type: ignore[attr-defined]
        try:
            hsds.import_directory(session=session, ports=failing, document=document,
                                  now=datetime.now(UTC))
            session.commit()
        except RuntimeError:
            session.rollback()
        else:
            raise AssertionError("the import should have broken")
    assert failing.codec.organizations == 6
    with Session(app.state.engine) as session:  # type: ignore[attr-defined]
        left = session.exec(select(Organization).where(col(Organization.name).in_(names)))
        assert list(left) == []


def test_the_cli_imports_a_directory_of_100_organizations_while_referrals_arrive(
        intake: Intake, database_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from services.cli import app as cli

    document = directory(100, namespace=uuid.uuid4())
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("HAVEN_VAR_DIR", str(tmp_path / "var"))
    ensure_service_keys(RuntimeSettings(var_dir=tmp_path / "var"))
    with referrals_arriving(intake) as answers:
        result = CliRunner().invoke(cli, ["directory", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported: 100 organizations" in result.output
    assert answers and set(answers) <= {201, 503}, answers
