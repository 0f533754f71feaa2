"""Defect 7: production mode. No API docs unless turned on (and then no CDN pages), HSTS,
every cookie Secure, no key-encryption key made at start-up, `haven keys` writing where
the services read, and no refused secret in an error."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner

from services.cli import app as haven
from services.intake.accounts import create_organization, create_user
from services.intake.main import create_app
from services.intake.models import OrganizationKind, Role
from services.intake.vault import VaultError
from shared.identity import ensure_service_keys, private_store, public_dir, publish
from shared.recipients import SERVICES
from shared.settings import IntakeSettings, KafkaSettings, RuntimeSettings
from tests.support.intake import PASSWORD
from tests.support.scratch import REPO_ROOT

SECRET = "CANARY-SECRET-" + uuid.uuid4().hex  # 46 characters: an acceptable token secret


@pytest.fixture
def production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A production environment with its keys provisioned (as an operator would, by hand:
    `haven keys init` has its own test); returns the var folder."""
    for name, value in {"HAVEN_ENVIRONMENT": "production", "HAVEN_VAR_DIR": str(tmp_path),
                        "HAVEN_INTAKE_DATA_KEY_FILE": str(tmp_path / "secrets" / "kek"),
                        "HAVEN_INTAKE_TOKEN_SECRET": SECRET}.items():
        monkeypatch.setenv(name, value)
    runtime = RuntimeSettings()
    for owner in SERVICES:
        store = private_store(runtime, owner)
        store.rotate(owner)
        publish(runtime, store, owner)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "kek").write_bytes(os.urandom(32))
    return tmp_path


@contextmanager
def _intake(var: Path, **settings: object) -> Iterator[TestClient]:
    app = create_app(intake=IntakeSettings(database_url=f"sqlite:///{var / 'intake.sqlite3'}",
                                           **settings),  # type: ignore[arg-type]
                     kafka=KafkaSettings(), runtime=RuntimeSettings(), background=False)
    with TestClient(app, base_url="https://haven.test", raise_server_exceptions=False) as client:
        yield client


def _cookies(answers: list[object]) -> list[str]:
    return [c for a in answers for c in a.headers.get_list("set-cookie")]  # type: ignore[attr-defined]


def test_production_serves_no_docs_sends_hsts_and_only_secure_cookies(production: Path) -> None:
    with _intake(production) as client:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
            assert client.get(path).status_code == 404, path
        with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
            organization = create_organization(session=session, name="Prod outreach",
                                               kind=OrganizationKind.OUTREACH, region="north")
            create_user(session=session, organization_id=organization.id, username="prod-user",
                        display_name="Prod", role=Role.OUTREACH_WORKER, password=PASSWORD)
            session.commit()
        form = client.get("/sign-in")
        csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        signed = client.post("/sign-in", follow_redirects=False, data={
            "username": "prod-user", "password": PASSWORD, "csrf": csrf})
        assert signed.status_code == 303, signed.text
        page = client.get("/outreach/referrals")
        token = client.post("/api/v1/auth/token",
                            data={"username": "prod-user", "password": PASSWORD})
        answers = [form, signed, page, token, client.get("/api/v1/referrals")]
        assert all(a.headers.get("strict-transport-security", "").startswith("max-age=")
                   for a in answers)
        cookies = _cookies(answers)
        assert len(cookies) >= 3  # the CSRF cookie, the session, the CSRF cookie's deletion
        assert [c for c in cookies if "secure" not in c.lower().split("; ")] == []


def test_docs_turned_on_in_production_serve_the_schema_but_no_cdn_pages(
        production: Path) -> None:
    with _intake(production, api_docs=True) as client:
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/docs").status_code == 404
        assert client.get("/redoc").status_code == 404


def test_cookies_without_secure_are_refused_in_production(
        production: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_PAGES_SECURE_COOKIES", "false")
    with pytest.raises(ValueError, match="SECURE_COOKIES"):
        _intake(production).__enter__()


def test_a_missing_key_encryption_key_stops_the_start_and_is_not_made(
        production: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = production / "secrets" / "elsewhere"
    monkeypatch.setenv("HAVEN_INTAKE_DATA_KEY_FILE", str(missing))
    with pytest.raises(VaultError, match="haven keys init"):
        _intake(production).__enter__()
    assert not missing.exists()


def test_keys_init_and_generate_write_where_the_services_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kek = tmp_path / "secrets" / "kek"
    for name, value in {"HAVEN_ENVIRONMENT": "production", "HAVEN_VAR_DIR": str(tmp_path),
                        "HAVEN_INTAKE_DATA_KEY_FILE": str(kek),
                        "HAVEN_INTAKE_TOKEN_SECRET": SECRET}.items():
        monkeypatch.setenv(name, value)
    made = CliRunner().invoke(haven, ["keys", "init"])
    assert made.exit_code == 0, made.output
    runtime = RuntimeSettings()
    ensure_service_keys(runtime)  # production: raises unless every service key set is there
    first = kek.read_bytes()
    assert len(first) == 32
    again = CliRunner().invoke(haven, ["keys", "init"])
    assert again.exit_code == 0 and "kept" in again.output
    assert kek.read_bytes() == first and oct(kek.stat().st_mode & 0o777) == "0o600"
    owner = f"org:{uuid.uuid4()}"
    made = CliRunner().invoke(haven, ["keys", "generate", owner])
    assert made.exit_code == 0, made.output
    assert private_store(runtime, owner).key_sets(owner), "the services' key store has it"
    published = public_dir(runtime) / f"{owner.replace(':', '_')}.json"
    assert published.exists()
    assert not (tmp_path / "keys" / "store").exists()
    listed = CliRunner().invoke(haven, ["keys", "list"])
    assert owner in listed.output and "service:intake" in listed.output


@pytest.mark.parametrize("environment", [
    {"HAVEN_INTAKE_TOKEN_SECRET": SECRET[:20]},  # too short
    {"HAVEN_INTAKE_TOKEN_SECRET": SECRET, "HAVEN_ENVIRONMENT": "production"},  # no key file
], ids=["too short", "production without key file"])
def test_a_refused_secret_is_never_echoed(environment: dict[str, str], tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HAVEN_")}
    started = subprocess.run(
        [sys.executable, "-m", "services.intake"], cwd=REPO_ROOT, capture_output=True,
        text=True, timeout=60, env={**env, "HAVEN_VAR_DIR": str(tmp_path), **environment})
    assert started.returncode != 0
    said = started.stdout + started.stderr
    assert "IntakeSettings refused" in said
    assert SECRET[:12] not in said and SECRET[-8:] not in said
