"""`haven intake …`: operator commands that act on the intake database directly."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer
from sqlmodel import Session

from services.intake.accounts import ensure_admin
from services.intake.db import create_db_engine, migrate
from shared.settings import IntakeSettings, RuntimeSettings

intake_app = typer.Typer(help="The intake database: migrations and the first admin.")


@intake_app.command("migrate")
def migrate_database() -> None:
    """Bring the intake database to the newest schema."""
    engine = create_db_engine(IntakeSettings().effective_database_url(RuntimeSettings()))
    migrate(engine)
    engine.dispose()
    typer.echo("intake database is up to date")


@intake_app.command("create-admin")
def create_admin(
    username: str = "admin",
    password: Annotated[str | None, typer.Option(
        help="at least 12 characters; a random one is generated and shown once if omitted",
    )] = None,
) -> None:
    """Create the first network admin, who then onboards organizations and users."""
    secret = password or secrets.token_urlsafe(12)
    if len(secret) < 12:
        typer.echo("error: the password must have at least 12 characters", err=True)
        raise typer.Exit(1)
    engine = create_db_engine(IntakeSettings().effective_database_url(RuntimeSettings()))
    migrate(engine)
    with Session(engine) as session:
        created = ensure_admin(session=session, username=username, password=secret)
        session.commit()
    engine.dispose()
    if not created:
        typer.echo(f"{username} already exists; nothing changed")
        return
    shown = "the password you gave" if password else secret
    typer.echo(f"admin created: sign in as {username} with {shown}")
