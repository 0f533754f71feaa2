"""`haven keys`: the operator's commands, and that they never print private material."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from services.cli import app
from shared.crypto import FileKeyStore


def test_generate_rotate_list_retire(tmp_path: Path) -> None:
    runner = CliRunner()
    store = ["--keystore", str(tmp_path / "store")]
    assert runner.invoke(app, ["keys", "generate", "org:demo", *store]).exit_code == 0
    assert runner.invoke(app, ["keys", "generate", "org:demo", *store]).exit_code == 1
    first = FileKeyStore(tmp_path / "store").active("org:demo")
    assert runner.invoke(app, ["keys", "rotate", "org:demo", *store]).exit_code == 0
    listed = runner.invoke(app, ["keys", "list", *store])
    assert listed.output.count("org:demo") == 2 and "retiring" in listed.output
    assert first.kem.private_bytes.hex() not in listed.output
    refused = runner.invoke(app, ["keys", "retire", "org:demo",
                                  FileKeyStore(tmp_path / "store").active("org:demo").kem.key_id,
                                  *store])
    assert refused.exit_code == 1
    retired = runner.invoke(app, ["keys", "retire", "org:demo", first.kem.key_id, *store])
    assert retired.exit_code == 0
    assert len(FileKeyStore(tmp_path / "store").key_sets("org:demo")) == 1
