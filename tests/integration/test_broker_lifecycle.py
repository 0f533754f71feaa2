"""The project's own broker: idempotent start, clean stop, restart, and a clear port error.

Runs a second broker on other ports and its own directory, so the session's broker
(and a developer's `make up`) is never touched.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from deploy.local.broker import BrokerConfig, BrokerError, answers_metadata, start, status, stop
from tests.support.processes import free_port


def _process_exists(pid: int) -> bool:
    """True for a live process; a reaped one has no /proc entry, a zombie counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _config(tmp_path: Path) -> BrokerConfig:
    return BrokerConfig(port=free_port(), controller_port=free_port(), var_dir=tmp_path)


@pytest.mark.slow
def test_start_twice_stop_and_start_again(tmp_path: Path) -> None:
    config = _config(tmp_path)
    try:
        assert start(config) is True
        assert start(config) is False, "a second start must be a no-op"
        pid = int(config.pid_file.read_text())
        assert answers_metadata(config, timeout_s=5)
        assert stop(config) is True
        assert not _process_exists(pid), "stop must leave no broker process behind"
        assert status(config).startswith("stopped")
        assert stop(config) is False
        assert start(config) is True, "start after stop must work (storage already formatted)"
        assert "ready" in status(config)
    finally:
        stop(config)


def test_taken_port_gives_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        config = BrokerConfig(port=squatter.getsockname()[1], controller_port=free_port(),
                              var_dir=tmp_path)
        with pytest.raises(BrokerError, match="already in use by another program"):
            start(config)
    assert not config.pid_file.exists()
