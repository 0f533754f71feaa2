"""Alembic environment: runs on the connection `db.migrate` hands over, or on DATABASE_URL."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import services.intake.directory.models  # noqa: F401  (registers the tables)
import services.intake.inbox.models  # noqa: F401
import services.intake.models  # noqa: F401
import services.intake.offers.models  # noqa: F401
import services.intake.sessions  # noqa: F401
import services.intake.vault  # noqa: F401
import services.intake.watch.models  # noqa: F401

target_metadata = SQLModel.metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(os.environ.get("DATABASE_URL", "sqlite:///var/intake.sqlite3"))
    with engine.begin() as own:
        context.configure(connection=own, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
