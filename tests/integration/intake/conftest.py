"""Every intake test runs on SQLite and on a real PostgreSQL server."""

from tests.support.intake_fixtures import database_fixture, intake

database_url = database_fixture("intake_test")

__all__ = ["database_url", "intake"]
