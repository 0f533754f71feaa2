"""Folders that Debian's PostgreSQL can enter when the tests run as root.

PostgreSQL refuses to run as root, so deploy/local/postgres.py runs it as the
unprivileged `haven-pg`, which cannot enter root-only folders such as pytest's
/tmp/pytest-of-root or a clone under /root. As root, test clusters therefore
live under the system temporary folder (world-traversable), not under the repo.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def postgres_scratch_base() -> Path:
    """A traversable base folder for this checkout's test clusters."""
    if os.geteuid() != 0:
        return REPO_ROOT / "var"
    tag = hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:10]
    base = Path(tempfile.gettempdir()) / f"haven-tests-{tag}"
    base.mkdir(exist_ok=True)
    base.chmod(0o755)
    return base
