"""The fixtures every intake test module shares: one app per module, on both databases.

One app and database per test module: signing in four members costs eight argon2
operations, which is too slow to repeat for every case of a table.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from deploy.local import postgres
from tests.support.databases import scratch_database
from tests.support.intake import Intake, running_intake


def database_fixture(scratch_prefix: str) -> Callable[..., Any]:
    """A module-scoped `database_url` fixture: a fresh SQLite file, then a PostgreSQL
    scratch database named after `scratch_prefix`."""

    @pytest.fixture(scope="module", params=["sqlite", "postgresql"])
    def database_url(request: pytest.FixtureRequest,
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
        """A fresh, empty database of the parametrized kind."""
        if request.param == "sqlite":
            folder = tmp_path_factory.mktemp("sqlite")
            yield f"sqlite:///{folder / f'intake-{uuid.uuid4().hex[:6]}.sqlite3'}"
            return
        server: postgres.PostgresConfig = request.getfixturevalue("postgres_server")
        with scratch_database(server, scratch_prefix) as url:
            yield url

    return database_url


@pytest.fixture(scope="module")
def intake(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Intake]:
    """A migrated intake app with its members, on this module's database."""
    with running_intake(var_dir=tmp_path_factory.mktemp("var"),
                        database_url=database_url) as running:
        yield running
