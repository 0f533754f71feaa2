"""Security tests (issue 13) run on SQLite and on a real PostgreSQL server, like intake's.

One app and database per test module: signing in four members costs eight argon2
operations, which is too slow to repeat for every case.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from deploy.local import postgres
from tests.support.databases import scratch_database
from tests.support.intake import Intake, running_intake


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty database of the parametrized kind."""
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("sqlite")
        yield f"sqlite:///{folder / f'intake-{uuid.uuid4().hex[:6]}.sqlite3'}"
        return
    server: postgres.PostgresConfig = request.getfixturevalue("postgres_server")
    with scratch_database(server, "intake_security") as url:
        yield url


@pytest.fixture(scope="module")
def intake(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Intake]:
    with running_intake(var_dir=tmp_path_factory.mktemp("var"),
                        database_url=database_url) as running:
        yield running
