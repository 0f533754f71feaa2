"""Every intake test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.intake import Intake, running_intake


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of the parametrized kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / f'intake-{uuid.uuid4().hex[:6]}.sqlite3'}"


@pytest.fixture
def intake(database_url: str, tmp_path: Path) -> Iterator[Intake]:
    with running_intake(var_dir=tmp_path, database_url=database_url) as running:
        yield running
