"""The `haven` command: one entry point for operators, composed from each part's commands."""

from __future__ import annotations

from importlib import metadata
from typing import Annotated

import typer

from deploy.local import broker as local_broker
from services.dead_letters_cli import dlq_app
from services.intake.audit_cli import audit_app
from services.intake.cli import api_keys_app, intake_app
from services.intake.directory.cli import directory_app
from shared.crypto.cli import keys_app
from shared.kafka import ensure_topics
from shared.settings import KafkaSettings
from shared.topics import CATALOG

app = typer.Typer(help="Haven: referral network operations.", rich_markup_mode=None,
                  add_completion=False)
topics_app = typer.Typer(help="Kafka topics, as declared in shared/topics.py.")
broker_app = typer.Typer(help="The local single-node Kafka broker (development, tests, demo).")
app.add_typer(topics_app, name="topics")
app.add_typer(broker_app, name="broker")
app.add_typer(keys_app, name="keys")
app.add_typer(intake_app, name="intake")
app.add_typer(directory_app, name="directory")
app.add_typer(audit_app, name="audit")
app.add_typer(dlq_app, name="dlq")


def _help_when_alone(ctx: typer.Context) -> None:
    """A group named without a command shows its help and succeeds (asking is not an error)."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit()


for _group in (topics_app, broker_app, keys_app, intake_app, directory_app, api_keys_app,
               audit_app, dlq_app):
    _group.callback(invoke_without_command=True)(_help_when_alone)
    _group.rich_markup_mode = None  # plain help: `--password-file FILE`, not `<str>` boxes


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"haven {metadata.version('haven')}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def main(ctx: typer.Context, version: Annotated[bool, typer.Option(
        "--version", help="Print Haven's version and exit.", is_eager=True,
        callback=_print_version)] = False) -> None:
    """Haven: referral network operations."""
    _help_when_alone(ctx)


@app.command()
def up() -> None:
    """Start broker, topics and the three services; Ctrl-C stops them."""
    # Imported here: the demo (its outbox needs aiosmtpd) is a development extra, and a
    # production install (`pip install .`) must still run every other command.
    from deploy.local import up as local_up

    raise typer.Exit(local_up.run())


@topics_app.command("create")
def topics_create() -> None:
    """Create missing topics and align partitions and configs; safe to repeat."""
    report = ensure_topics(KafkaSettings())
    for label, names in (("created", report.created), ("updated", report.updated)):
        for name in names:
            typer.echo(f"{label:>9}  {name}")
    typer.echo(f"{len(report.unchanged)} topics already as declared.")


@topics_app.command("list")
def topics_list() -> None:
    """Show the catalog: name, partitions, cleanup, and what the key means."""
    for spec in CATALOG:
        typer.echo(f"{spec.name:<32} {spec.partitions:>2}  {spec.cleanup:<8} key: {spec.key}")


def _broker(command: str) -> None:
    code = local_broker.main([command])
    if code:
        raise typer.Exit(code)


@broker_app.command("start")
def broker_start() -> None:
    """Start (or confirm) the local broker; waits until it answers."""
    _broker("start")


@broker_app.command("stop")
def broker_stop() -> None:
    """Stop the local broker and its whole process group."""
    _broker("stop")


@broker_app.command("status")
def broker_status() -> None:
    """Say whether the local broker runs and answers."""
    _broker("status")
