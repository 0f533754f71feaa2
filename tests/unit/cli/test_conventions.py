"""The `haven` command keeps the conventions people expect (issue 19, defect 13): alone it
shows its help and succeeds, `--version` answers, labels are plain, and no password is ever
taken on the command line (other users see argv in the process list; shells keep it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from services.cli import app
from services.intake.auth import verify_password
from services.intake.db import create_db_engine
from services.intake.models import User

RUNNER = CliRunner()
PASSPHRASE = "a long enough test passphrase"


@pytest.mark.parametrize("words", [[], ["topics"], ["broker"], ["keys"], ["intake"],
                                   ["intake", "api-keys"], ["directory"]])
def test_a_command_alone_shows_its_help_and_succeeds(words: list[str]) -> None:
    answer = RUNNER.invoke(app, words, prog_name="haven")
    assert answer.exit_code == 0, answer.output
    assert answer.output.startswith("Usage: haven") and "Commands:" in answer.output


def test_version_and_plain_labels() -> None:
    version = RUNNER.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.startswith("haven ")
    help_text = RUNNER.invoke(app, ["intake", "create-admin", "--help"]).output
    assert "--password-file FILE" in help_text and "--prompt " in help_text
    assert "<bool>" not in help_text and "<str>" not in help_text and "╭" not in help_text
    assert "--password " not in help_text, "the refused option is not offered"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'intake.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HAVEN_VAR_DIR", str(tmp_path))
    return url


def _hash_of(url: str, username: str) -> str | None:
    engine = create_db_engine(url)
    with Session(engine) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        found = user.password_hash
    engine.dispose()
    return found


def test_no_password_on_the_command_line(database: str, tmp_path: Path) -> None:
    refused = RUNNER.invoke(app, ["intake", "create-admin", "--password", PASSPHRASE])
    assert refused.exit_code == 2 and "--password-file" in refused.output
    secret = tmp_path / "admin-password"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    from_file = RUNNER.invoke(app, ["intake", "create-admin", "--password-file", str(secret)])
    assert from_file.exit_code == 0, from_file.output
    assert PASSPHRASE not in from_file.output
    assert verify_password(PASSPHRASE, _hash_of(database, "admin"))
    from_stdin = RUNNER.invoke(app, ["intake", "create-admin", "--username", "second-admin",
                                     "--password-file", "-"], input=PASSPHRASE + "\n")
    assert from_stdin.exit_code == 0, from_stdin.output
    assert verify_password(PASSPHRASE, _hash_of(database, "second-admin"))
    prompted = RUNNER.invoke(app, ["intake", "create-admin", "--username", "third-admin",
                                   "--prompt"], input=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert prompted.exit_code == 0, prompted.output
    assert verify_password(PASSPHRASE, _hash_of(database, "third-admin"))
