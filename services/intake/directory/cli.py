"""`haven directory …`: seed the demo network, import and export HSDS JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from services.intake.db import create_db_engine, migrate
from services.intake.directory import hsds, hsds_tabular, seed
from services.intake.main import build_ports
from shared.identity import ensure_service_keys, private_store
from shared.settings import IntakeSettings, KafkaSettings, RuntimeSettings

directory_app = typer.Typer(help="The provider directory: demo seed, HSDS import and export.")


def _open() -> tuple[Session, RuntimeSettings, IntakeSettings]:
    runtime, intake = RuntimeSettings(), IntakeSettings()
    engine = create_db_engine(intake.effective_database_url(runtime))
    migrate(engine)
    return Session(engine), runtime, intake


def seed_network(runtime: RuntimeSettings, intake: IntakeSettings, *,
                 show_progress: bool = True) -> seed.SeedReport:
    """The demo network in the intake database; its events leave through the outbox."""
    ensure_service_keys(runtime)
    ports = build_ports(intake=intake, kafka=KafkaSettings(), runtime=runtime)
    engine = create_db_engine(intake.effective_database_url(runtime))
    migrate(engine)
    total = seed.PROVIDERS + len(seed.OUTREACH_TEAMS)
    with Session(engine) as session, Progress(disable=not show_progress) as progress:
        task = progress.add_task("seeding the demo network", total=total)
        report = seed.seed_demo_network(
            session=session, ports=ports, now=datetime.now(UTC),
            keys=lambda owner: private_store(runtime, owner),
            progress=lambda name: progress.update(task, advance=1,
                                                  description=f"seeded {name}"))
        session.commit()
    engine.dispose()
    return report


@directory_app.command("seed")
def seed_command() -> None:
    """Create the invented demo network (64 providers, outreach teams, staff, admin) once."""
    runtime = RuntimeSettings()
    if runtime.environment == "production":
        typer.echo("error: the demo network is never seeded in production", err=True)
        raise typer.Exit(1)
    report = seed_network(runtime, IntakeSettings())
    if report.skipped:
        typer.echo("the demo network is already there; nothing changed")
        return
    typer.echo(f"seeded {report.organizations} organizations, {report.services} services, "
               f"{report.users} users")


@directory_app.command("import")
def import_command(file: Annotated[Path, typer.Argument(
        metavar="FILE", exists=True, readable=True)]) -> None:
    """Add or update the directory from HSDS: a JSON file, or the tabular form (a folder or
    zip of the data package's CSV files)."""
    try:
        if file.is_dir():
            document = hsds_tabular.nest(hsds_tabular.read_folder(file))
        elif file.suffix == ".zip":
            document = hsds_tabular.nest(hsds_tabular.read_zip(file.read_bytes()))
        else:
            document = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        typer.echo(f"error: {file} is not JSON: {error}", err=True)
        raise typer.Exit(1) from error
    except hsds_tabular.TabularProblem as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    session, runtime, intake = _open()
    ports = build_ports(intake=intake, kafka=KafkaSettings(), runtime=runtime)
    with session:
        try:
            report = hsds.import_directory(session=session, ports=ports, document=document,
                                           now=datetime.now(UTC))
            session.commit()
        except hsds.DocumentProblem as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from error
        except OperationalError as error:
            typer.echo("error: the database is busy and nothing was saved; run the same "
                       "import again in a moment", err=True)
            raise typer.Exit(3) from error
    typer.echo(f"{report.outcome}: {report.organizations} organizations, "
               f"{report.locations} locations, {report.services} services")
    for problem in report.rejected:
        typer.echo(f"  rejected {problem.path}: {problem.message}")
    if report.rejected:
        raise typer.Exit(2)


@directory_app.command("export")
def export_command(file: Annotated[Path | None, typer.Argument(
        metavar="FILE", dir_okay=False)] = None) -> None:
    """Write the directory as HSDS JSON (to stdout without a file); no confidential address."""
    session, _, _ = _open()
    with session:
        document = hsds.export_directory(session)
    text = json.dumps(document, indent=1, ensure_ascii=False)
    if file is None:
        typer.echo(text)
    else:
        file.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"wrote {len(document['organizations'])} organizations to {file}")
