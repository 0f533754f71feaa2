"""Security tests (issue 13) run on SQLite and on a real PostgreSQL server, like intake's."""

from tests.support.intake_fixtures import database_fixture, intake

database_url = database_fixture("intake_security")

__all__ = ["database_url", "intake"]
