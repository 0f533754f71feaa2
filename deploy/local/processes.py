"""Process and port checks shared by the local broker and database scripts (stdlib only)."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def port_open(host: str, port: int) -> bool:
    """Something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def alive(pid: int) -> bool:
    """The process runs; our own exited children are reaped, and zombies count as gone."""
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == pid:
            return False
    except ChildProcessError:
        pass  # not our child: fall through to the signal probe
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not is_zombie(pid)


def is_zombie(pid: int) -> bool:
    """It has exited; only its parent (often init) has not reaped it yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False


def log_tail(path: Path, *, lines: int = 25, missing: str = "(no log written)") -> str:
    """The last lines of a log, for error messages a person can act on."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return missing
