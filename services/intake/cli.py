"""`haven intake …`: operator commands that act on the intake database directly."""

from __future__ import annotations

import secrets
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from services.intake import api_keys
from services.intake.accounts import ensure_admin
from services.intake.db import create_db_engine, migrate
from services.intake.handlers import NotFound
from shared.settings import IntakeSettings, RuntimeSettings

intake_app = typer.Typer(help="The intake database: migrations, the first admin, API keys.")
api_keys_app = typer.Typer(help="Partner systems' API keys: list and revoke.")
intake_app.add_typer(api_keys_app, name="api-keys")


@intake_app.command("migrate")
def migrate_database() -> None:
    """Bring the intake database to the newest schema."""
    engine = create_db_engine(IntakeSettings().effective_database_url(RuntimeSettings()))
    migrate(engine)
    engine.dispose()
    typer.echo("intake database is up to date")


@intake_app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Option(metavar="NAME", help="the admin's sign-in name")
                        ] = "admin",
    password_file: Annotated[Path | None, typer.Option(
        metavar="FILE", help="read the password from the first line of FILE ('-': stdin)",
    )] = None,
    prompt: Annotated[bool, typer.Option(
        "--prompt", help="type the password (hidden, asked twice)")] = False,
    password: Annotated[str | None, typer.Option(hidden=True)] = None,
) -> None:
    """Create the first network admin, who then onboards organizations and users.

    Without --password-file or --prompt a random password is made and shown once. A
    password is never taken on the command line: other users see it in the process
    list, and it stays in the shell's history.
    """
    if password is not None:
        typer.echo("error: --password is not accepted: a password on the command line is "
                   "visible to other users and stays in the shell history. Use "
                   "--password-file FILE, --password-file - (stdin) or --prompt.", err=True)
        raise typer.Exit(2)
    given = _given_password(password_file, prompt)
    secret = given or secrets.token_urlsafe(12)
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
    shown = "the password you gave" if given else secret
    typer.echo(f"admin created: sign in as {username} with {shown}")


def _given_password(password_file: Path | None, prompt: bool) -> str | None:
    """The password from a file, stdin or a hidden prompt; None to generate one."""
    if password_file is not None:
        try:
            text = (sys.stdin.read() if str(password_file) == "-"
                    else password_file.read_text(encoding="utf-8"))
        except OSError as error:
            typer.echo(f"error: cannot read the password file ({error.strerror})", err=True)
            raise typer.Exit(1) from None
        lines = text.splitlines()
        return lines[0] if lines else ""
    if prompt:
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    return None


@api_keys_app.command("list")
def list_keys() -> None:
    """Every key: id, prefix, organization, role, name, revoked or active (no secrets)."""
    engine = create_db_engine(IntakeSettings().effective_database_url(RuntimeSettings()))
    with Session(engine) as session:
        for key in api_keys.list_api_keys(session=session):
            state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
            typer.echo(f"{key.id}  hvn_{key.prefix}_…  {key.organization_id}  "
                       f"{key.role.value}  {key.name!r}  {state}")
    engine.dispose()


@api_keys_app.command("revoke")
def revoke_key(key_id: Annotated[str, typer.Argument(
        metavar="KEY_ID", help="the id `list` shows")]) -> None:
    """Revoke a key now (on the audit trail, with no actor: an operator at the console)."""
    try:
        wanted = uuid.UUID(key_id)
    except ValueError:
        typer.echo("error: give the key's id as `haven intake api-keys list` shows it", err=True)
        raise typer.Exit(1) from None
    engine = create_db_engine(IntakeSettings().effective_database_url(RuntimeSettings()))
    try:
        with Session(engine) as session:
            key = api_keys.revoke_api_key(session=session, key_id=wanted, by=None,
                                          now=datetime.now(UTC))
            session.commit()
            typer.echo(f"revoked hvn_{key.prefix}_… ({key.name!r})")
    except NotFound as missing:
        typer.echo(f"error: {missing}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
