"""The project's own PostgreSQL: idempotent start, real SQL, clean stop, restart, port error.

Runs a second cluster on a free port in its own directory, so the developer's cluster
(var/postgres, port 55432) is never touched.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from deploy.local.postgres import (
    PostgresConfig,
    PostgresError,
    accepts_connections,
    dsn,
    start,
    status,
    stop,
)
from tests.support.processes import free_port
from tests.support.scratch import postgres_scratch_base


@pytest.fixture
def var_dir(tmp_path: Path) -> Iterator[Path]:
    """tmp_path, except as root: PostgreSQL then runs as 'haven-pg', which cannot enter
    pytest's root-only /tmp/pytest-of-root, so the cluster goes under a traversable base."""
    if os.geteuid() != 0:
        yield tmp_path
        return
    base = postgres_scratch_base() / "tmp-tests"
    base.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="pg-", dir=base))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        try:
            base.rmdir()  # only when no other test run still uses it
        except OSError:
            pass


def _process_exists(pid: int) -> bool:
    """True for a live process; a reaped one has no /proc entry, a zombie counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _cluster_pids(postmaster: int) -> set[int]:
    """The postmaster and its children (backends call setsid, so no process group to use)."""
    pids = {postmaster}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat_file.read_text().split(") ", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == postmaster:
            pids.add(int(stat_file.parent.name))
    return pids


def _processes_naming(data_dir: Path) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(data_dir).encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return [pid for pid in found if _process_exists(pid)]


def _libpq_uri(config: PostgresConfig) -> str:
    return dsn(config).replace("postgresql+psycopg://", "postgresql://")


def test_dsn_is_a_sqlalchemy_url() -> None:
    assert dsn(PostgresConfig()) == "postgresql+psycopg://haven@127.0.0.1:55432/haven"


@pytest.mark.slow
def test_start_twice_round_trip_stop_and_start_again(var_dir: Path) -> None:
    config = PostgresConfig(port=free_port(), var_dir=var_dir)
    try:
        assert start(config) is True
        assert start(config) is False, "a second start must be a no-op"
        assert accepts_connections(config)
        with psycopg.connect(_libpq_uri(config), autocommit=True) as connection:
            connection.execute("CREATE TABLE referral_probe (id int PRIMARY KEY, note text)")
            connection.execute("INSERT INTO referral_probe VALUES (%s, %s)", (1, "kept"))
            row = connection.execute("SELECT current_user, note FROM referral_probe").fetchone()
        assert row == ("haven", "kept")

        postmaster = int(config.pid_file.read_text().splitlines()[0])
        cluster = _cluster_pids(postmaster)
        assert len(cluster) > 1, "expected the postmaster's background processes"
        assert stop(config) is True
        assert not [pid for pid in cluster if _process_exists(pid)], "stop left processes"
        assert not _processes_naming(config.data_dir)
        assert status(config).startswith("stopped")
        assert stop(config) is False

        assert start(config) is True, "start after stop must reuse the cluster"
        assert "accepting connections" in status(config)
        with psycopg.connect(_libpq_uri(config)) as connection:
            note = connection.execute("SELECT note FROM referral_probe WHERE id = 1").fetchone()
        assert note == ("kept",), "data must survive a stop and start"
    finally:
        stop(config)
    assert not _processes_naming(config.data_dir)


def test_taken_port_gives_a_clear_error(var_dir: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        config = PostgresConfig(port=squatter.getsockname()[1], var_dir=var_dir)
        with pytest.raises(PostgresError, match="already in use by another program"):
            start(config)
    assert not config.home.exists(), "a refused start must not create a cluster"
