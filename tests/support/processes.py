"""Starting the services as real OS processes and waiting for them to be ready."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(done: Callable[[], bool], timeout_s: float) -> bool:
    """Poll until `done()`; its last answer, so a caller can assert on it with a message."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(0.25)
    return done()


class ServiceProcess:
    """One `python -m <module>` child with its log in a file the test can scan afterwards."""

    def __init__(self, module: str, *, log_file: Path, env: dict[str, str]) -> None:
        self.module = module
        self.log_file = log_file
        log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_file.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", module], cwd=REPO_ROOT, stdout=self._log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **env}, start_new_session=True,
        )

    def wait_for_log(self, needle: str, *, timeout_s: float = 60.0) -> None:
        """Block until the process logs `needle`; fail with the log tail if it dies or stalls."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if needle in self.log_file.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                raise AssertionError(f"{self.module} exited early:\n{self.tail()}")
            time.sleep(0.2)
        raise AssertionError(f"{self.module} never logged {needle!r}:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 30.0) -> int:
        """Signal the process group and reap it; SIGKILL if it does not go in time."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
        return self.process.returncode
