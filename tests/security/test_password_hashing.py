"""Passwords are hashed with argon2id at RFC 9106's low-memory parameters; the cheap
parameters the test suite uses (HAVEN_TEST_CHEAP_PASSWORD_HASHING) never reach production.

Each case runs in a fresh interpreter: the hasher is chosen when intake's auth module
is imported.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.processes import REPO_ROOT

PRINT_PARAMETERS = ("from argon2 import extract_parameters;"
                    "from services.intake.auth import hash_password;"
                    "p = extract_parameters(hash_password('CANARY-PASSWORD-1'));"
                    "print(p.type.name, p.memory_cost, p.time_cost, p.parallelism)")


def _run(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("HAVEN_TEST_CHEAP_PASSWORD_HASHING", "HAVEN_ENVIRONMENT")}
    return subprocess.run([sys.executable, "-c", PRINT_PARAMETERS], cwd=REPO_ROOT,
                          env={**clean, **env}, capture_output=True, text=True, timeout=120,
                          check=False)


def test_passwords_are_hashed_with_rfc_9106_parameters_by_default() -> None:
    result = _run()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ID", "65536", "3", "4"]


def test_production_refuses_the_test_suites_cheap_parameters() -> None:
    result = _run(HAVEN_TEST_CHEAP_PASSWORD_HASHING="1", HAVEN_ENVIRONMENT="production")
    assert result.returncode != 0
    assert "refused in production" in result.stderr
    assert "CANARY-PASSWORD-1" not in result.stderr + result.stdout


def test_the_cheap_parameters_are_only_a_test_setting() -> None:
    result = _run(HAVEN_TEST_CHEAP_PASSWORD_HASHING="1")
    assert result.returncode == 0, result.stderr
    kind, memory, *_ = result.stdout.split()
    assert kind == "ID" and int(memory) < 65536
