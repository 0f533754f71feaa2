"""A real PostgreSQL for development, tests, CI and the demo, from Debian's own packages.

Haven runs its own cluster in var/postgres (loopback, port 55432), not the system's: after a
one-time package install no system service is involved, a developer's own PostgreSQL is never
touched, and tests can run a second cluster in a temporary directory.

    python -m deploy.local.postgres start | stop | status | dsn
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.processes import alive, is_zombie, log_tail, port_open

REPO_ROOT = Path(__file__).resolve().parents[2]
PG_ROOT = Path("/usr/lib/postgresql")
TOOLS = ("initdb", "pg_ctl", "postgres", "pg_isready", "psql")
SYSTEM_USER = "haven-pg"  # PostgreSQL refuses to run as root; as root we run it as this user
SUPERUSER = "postgres"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin"  # a venv's PATH may lack sbin
INSTALL_ADVICE = "Install it once with: sudo apt-get install postgresql"

# Loopback only and no passwords: the cluster holds throwaway development and test data and
# listens on 127.0.0.1 alone, so only programs on this machine reach it; a password would
# only add a secret to manage. Never put real data in it.
PG_HBA = """# Written by deploy/local/postgres.py: loopback only, no passwords (docs/decisions.md).
local all all trust
host  all all 127.0.0.1/32 trust
"""


class PostgresError(RuntimeError):
    """A problem a person can act on; the message says what to do."""


@dataclass(frozen=True)
class PostgresConfig:
    """Where one cluster lives; tests make a second one on another port and directory."""

    host: str = "127.0.0.1"
    port: int = 55432
    var_dir: Path = field(default_factory=lambda: REPO_ROOT / "var")
    user: str = "haven"
    database: str = "haven"
    fast: bool = False  # fsync and synchronous_commit off: for throwaway test clusters only

    @classmethod
    def from_env(cls) -> PostgresConfig:
        return cls(
            port=int(os.environ.get("HAVEN_PG_PORT", "55432")),
            var_dir=Path(os.environ.get("HAVEN_VAR_DIR", str(REPO_ROOT / "var"))),
            fast=os.environ.get("HAVEN_PG_FAST", "") == "1",
        )

    @property
    def home(self) -> Path:
        return self.var_dir / "postgres"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "postgres.log"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def pid_file(self) -> Path:
        """PostgreSQL's own pid file: a second one of ours could only disagree with it."""
        return self.data_dir / "postmaster.pid"


def dsn(config: PostgresConfig) -> str:
    """SQLAlchemy URL; without '+psycopg' it is also a libpq URI."""
    return f"postgresql+psycopg://{config.user}@{config.host}:{config.port}/{config.database}"


def ensure_installed() -> Path:
    """Return the newest Debian PostgreSQL bin directory, installing the package if root."""
    found = _find_bin_dir()
    if found is not None:
        return found
    if os.geteuid() != 0 or _which("apt-get") is None:
        raise PostgresError(
            f"PostgreSQL's server programs are not in {PG_ROOT}/*/bin. {INSTALL_ADVICE} "
            "(Haven runs its own cluster in var/postgres; the system cluster is not used)."
        )
    print("installing PostgreSQL with apt-get ...", file=sys.stderr)
    result = _apt("install", "-y", "--no-install-recommends", "postgresql")
    if result.returncode != 0:  # most often: no package lists yet on a fresh machine
        _apt("update")
        result = _apt("install", "-y", "--no-install-recommends", "postgresql")
    found = _find_bin_dir()
    if result.returncode != 0 or found is None:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise PostgresError(f"apt-get could not install PostgreSQL. {INSTALL_ADVICE}\n{tail}")
    return found


def start(config: PostgresConfig) -> bool:
    """Start the cluster and wait until it accepts connections; False when it already ran."""
    if _running_pid(config) is not None:
        if (port := _pid_file_port(config)) != config.port:
            raise PostgresError(
                f"Haven's PostgreSQL in {config.data_dir} already runs on port {port}, not "
                f"{config.port}. Stop it first: python -m deploy.local.postgres stop"
            )
        _wait_until_ready(config)
        return False
    _refuse_taken_port(config)
    if (stale := _pid_file_field(config, 0)) is not None:
        _wait_reaped(stale)  # after a crash; PostgreSQL counts a zombie postmaster as running
    bin_dir = ensure_installed()
    _prepare_dirs(config)
    if not (config.data_dir / "PG_VERSION").exists():
        _initdb(config, bin_dir)
    result = _run_as_owner(config, [
        str(bin_dir / "pg_ctl"), "start", "-w", "-t", str(int(READY_TIMEOUT_S)),
        "-D", str(config.data_dir), "-l", str(config.log_file), "-o", _server_options(config),
    ])
    if result.returncode != 0:
        if _running_pid(config) is not None and accepts_connections(config):
            return False  # a concurrent start won the race; do not stop its server
        stop(config)  # one that comes up after pg_ctl gave up must not linger
        raise PostgresError(
            f"PostgreSQL did not start:\n{result.stdout}{result.stderr}\n{_log_tail(config)}"
        )
    _wait_until_ready(config)
    _create_role_and_database(config, bin_dir)
    return True


def stop(config: PostgresConfig) -> bool:
    """Fast shutdown (clients cut off, nothing to recover next time); False when none ran."""
    pid = _running_pid(config)
    if pid is None:
        return False
    if (bin_dir := _find_bin_dir()) is not None:
        _run_as_owner(config, [
            str(bin_dir / "pg_ctl"), "stop", "-D", str(config.data_dir),
            "-m", "fast", "-w", "-t", str(int(STOP_TIMEOUT_S)),
        ])
    # Backends are not in the postmaster's process group (each calls setsid), so a group
    # kill would miss them. SIGQUIT makes the postmaster kill them; if even that hangs,
    # SIGKILL it and they exit when they see it gone.
    for sig, grace_s in ((signal.SIGQUIT, 10.0), (signal.SIGKILL, 5.0)):
        if _wait_gone(pid, 5.0):
            break
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        _wait_gone(pid, grace_s)
    return True


def status(config: PostgresConfig) -> str:
    """One line for people: running with pid and address, or stopped."""
    pid = _running_pid(config)
    if pid is None:
        return f"stopped (would listen on {config.host}:{config.port})"
    ready = "accepting connections" if accepts_connections(config) else "not accepting yet"
    return f"running, pid {pid}, {config.host}:{_pid_file_port(config)}, {ready}"


def accepts_connections(config: PostgresConfig, *, timeout_s: int = 3) -> bool:
    """pg_isready's verdict: a listening port is not enough (it may still be recovering)."""
    bin_dir = _find_bin_dir()
    if bin_dir is None:
        return False
    command = [
        str(bin_dir / "pg_isready"), "-q", "-h", config.host, "-p", str(config.port),
        "-U", SUPERUSER, "-d", "postgres", "-t", str(timeout_s),
    ]
    return subprocess.run(command, check=False, stdin=subprocess.DEVNULL).returncode == 0


def _find_bin_dir() -> Path | None:
    candidates = [
        initdb.parent for initdb in PG_ROOT.glob("*/bin/initdb")
        if all((initdb.parent / tool).exists() for tool in TOOLS)
    ]
    return max(candidates, key=_version_key, default=None)


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name))


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", *args], capture_output=True, text=True, check=False, timeout=1800,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, stdin=subprocess.DEVNULL,
    )


def _which(name: str) -> str | None:
    return shutil.which(name, path=f"{os.environ.get('PATH', '')}:{SBIN_PATH}")


def _system_account() -> pwd.struct_passwd:
    """The unprivileged user that runs PostgreSQL when we are root; created once."""
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(SYSTEM_USER)
    result = subprocess.run(
        [_which("useradd") or "useradd", "--system", "--user-group", "--no-create-home",
         "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
        capture_output=True, text=True, check=False,
    )
    try:
        return pwd.getpwnam(SYSTEM_USER)  # also right when a concurrent useradd won the race
    except KeyError:
        raise PostgresError(f"Could not create user '{SYSTEM_USER}': {result.stderr}") from None


def _prepare_dirs(config: PostgresConfig) -> None:
    """Make the directories; as root, hand them to the user that runs PostgreSQL."""
    account = _system_account() if os.geteuid() == 0 else None
    if account is not None:
        _refuse_unreachable(config.home, account)  # before making anything
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    config.log_file.parent.mkdir(parents=True, exist_ok=True)
    config.run_dir.mkdir(parents=True, exist_ok=True)
    if account is None:
        return
    _refuse_unreachable(config.home, account)  # and again, in case of a strict umask
    mine = (config.home, config.data_dir, config.log_file.parent, config.run_dir)
    if any(directory.stat().st_uid != account.pw_uid for directory in mine):
        owner = f"{account.pw_uid}:{account.pw_gid}"
        subprocess.run(["chown", "-R", owner, str(config.home)], check=True)


def _refuse_unreachable(path: Path, account: pwd.struct_passwd) -> None:
    for ancestor in reversed(path.parents):
        if not ancestor.exists():
            break
        info = ancestor.stat()
        if not info.st_mode & stat.S_IXOTH and info.st_uid != account.pw_uid:
            raise PostgresError(
                f"PostgreSQL refuses to run as root, so it runs as '{SYSTEM_USER}', which cannot "
                f"enter {ancestor}. Allow it (chmod o+x {ancestor}) or set HAVEN_VAR_DIR."
            )


def _as_owner(config: PostgresConfig, command: list[str]) -> list[str]:
    """Run as the data directory's owner: PostgreSQL insists, and refuses root outright."""
    owner = config.data_dir.stat().st_uid
    if owner == os.geteuid():
        return command
    name = pwd.getpwuid(owner).pw_name
    if os.geteuid() != 0:
        raise PostgresError(f"{config.data_dir} belongs to '{name}'; run this as '{name}'.")
    if (runuser := _which("runuser")) is not None:
        return [runuser, "-u", name, "--", *command]
    if (su := _which("su")) is not None:
        return [su, "-s", "/bin/sh", name, "-c", shlex.join(command)]
    raise PostgresError("Neither runuser nor su is available to drop root privileges.")


def _run_as_owner(config: PostgresConfig, command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _as_owner(config, command), cwd=config.home, capture_output=True, text=True,
        check=False, stdin=subprocess.DEVNULL,
    )


def _initdb(config: PostgresConfig, bin_dir: Path) -> None:
    """Create the cluster once: UTF-8 with C collation, so sorting is the same everywhere."""
    result = _run_as_owner(config, [
        str(bin_dir / "initdb"), "-D", str(config.data_dir), "-U", SUPERUSER,
        "--auth=trust", "--encoding=UTF8", "--no-locale",
    ])
    if result.returncode != 0:
        raise PostgresError(
            f"initdb failed; if {config.data_dir} holds a broken cluster, remove it and start "
            f"again.\n{result.stdout}{result.stderr}"
        )
    (config.data_dir / "pg_hba.conf").write_text(PG_HBA)  # initdb's file: its owner stays


def _server_options(config: PostgresConfig) -> str:
    """Given on each start (postmaster.opts keeps them), so a new port or HAVEN_PG_FAST applies."""
    durable = "off" if config.fast else "on"
    settings = {
        "listen_addresses": config.host, "port": str(config.port),
        "unix_socket_directories": str(config.run_dir),
        "fsync": durable, "synchronous_commit": durable, "full_page_writes": durable,
    }
    return shlex.join(f"--{name}={value}" for name, value in settings.items())


def _create_role_and_database(config: PostgresConfig, bin_dir: Path) -> None:
    """Idempotent, so a dropped database comes back on the next start."""
    script = (
        "SELECT format('CREATE ROLE %I LOGIN CREATEDB', :'role') WHERE NOT EXISTS "
        "(SELECT FROM pg_roles WHERE rolname = :'role') \\gexec\n"
        "SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role') WHERE NOT EXISTS "
        "(SELECT FROM pg_database WHERE datname = :'db') \\gexec\n"
    )
    command = [
        str(bin_dir / "psql"), "-X", "-q", "-h", config.host, "-p", str(config.port),
        "-U", SUPERUSER, "-d", "postgres", "-v", "ON_ERROR_STOP=1",
        "-v", f"role={config.user}", "-v", f"db={config.database}", "-f", "-",
    ]
    result = subprocess.run(command, input=script, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PostgresError(f"Creating role and database failed:\n{result.stderr}")


def _wait_until_ready(config: PostgresConfig) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if _running_pid(config) is None:
            raise PostgresError(f"PostgreSQL exited during start-up:\n{_log_tail(config)}")
        if accepts_connections(config):
            return
        time.sleep(0.2)
    stop(config)
    raise PostgresError(
        f"PostgreSQL did not accept connections within {READY_TIMEOUT_S:.0f}s; stopped it.\n"
        f"{_log_tail(config)}"
    )


def _refuse_taken_port(config: PostgresConfig) -> None:
    if port_open(config.host, config.port):
        raise PostgresError(
            f"Port {config.host}:{config.port} is already in use by another program, not "
            "Haven's PostgreSQL. Stop that program, or choose a free port with HAVEN_PG_PORT."
        )


def _pid_file_field(config: PostgresConfig, line: int) -> int | None:
    """postmaster.pid holds pid, data directory, start time, port, ... one per line."""
    try:
        value = config.pid_file.read_text().splitlines()[line].strip()
    except (FileNotFoundError, IndexError):
        return None
    return int(value) if value.isdigit() else None


def _pid_file_port(config: PostgresConfig) -> int | None:
    return _pid_file_field(config, 3)


def _running_pid(config: PostgresConfig) -> int | None:
    """The postmaster's pid; None for a stale pid file (after a crash) or a reused pid."""
    pid = _pid_file_field(config, 0)
    return pid if pid is not None and alive(pid) and _is_postgres(pid) else None


def _wait_reaped(pid: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while is_zombie(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def _is_postgres(pid: int) -> bool:
    """Guards stop's signals: after a crash and reboot the pid may belong to anything."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().startswith("postgres")
    except OSError:
        return False


def _wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def _log_tail(config: PostgresConfig) -> str:
    return log_tail(config.log_file, missing="(no PostgreSQL log written)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Haven's local PostgreSQL cluster.")
    parser.add_argument("command", choices=["start", "stop", "status", "dsn"])
    command = parser.parse_args(argv).command
    config = PostgresConfig.from_env()
    try:
        if command == "start":
            started = start(config)
            print(f"postgres {'started' if started else 'already running'}: {dsn(config)}")
        elif command == "stop":
            print("postgres stopped" if stop(config) else "postgres was not running")
        elif command == "status":
            print(f"postgres {status(config)}")
        else:
            print(dsn(config))
    except PostgresError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
