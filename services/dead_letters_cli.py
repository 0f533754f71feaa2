"""`haven dlq list|show|replay`: the dead letters, for an operator at a terminal.

Exit codes scripts can use: 0 done (for `list`: none found), 1 refused or not found,
3 `list` found dead letters.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from shared import dead_letter_desk as desk
from shared.records import IncomingRecord
from shared.settings import KafkaSettings

dlq_app = typer.Typer(help="Dead letters: what was refused and why; send one back once "
                           "its cause is fixed.")
FOUND = 3


@dlq_app.command("list")
def list_letters(each: Annotated[bool, typer.Option(
        help="one line per dead letter (with the address `show` and `replay` take)")] = False,
) -> None:
    """Dead letters per topic, reason and consumer; exit 3 when there are any."""
    letters = [desk.describe(r) for r in desk.read_all(KafkaSettings())]
    console = Console()
    if not letters:
        console.print("no dead letters")
        return
    if each:
        table = Table("address", "reason", "consumer", "event type", "rejected at")
        for letter in letters:
            table.add_row(letter.address, letter.reason, letter.consumer, letter.event_type,
                          letter.rejected_at)
    else:
        table = Table("topic", "reason", "consumer", "count")
        for (topic, reason, consumer), count in sorted(desk.summary(letters).items()):
            table.add_row(topic, reason, consumer, str(count))
    console.print(table)
    raise typer.Exit(FOUND)


@dlq_app.command("show")
def show(address: Annotated[str, typer.Argument(help="TOPIC.dlq:PARTITION:OFFSET")]) -> None:
    """Where one dead letter came from and why it was refused (never its payload)."""
    letter = desk.describe(_read(address))
    for name, value in (("address", letter.address),
                        ("from", f"{letter.source_topic}:{letter.source_partition}:"
                                 f"{letter.source_offset}"),
                        ("reason", letter.reason), ("detail", letter.detail or "-"),
                        ("consumer", letter.consumer), ("rejected at", letter.rejected_at),
                        ("event type", letter.event_type or "-"),
                        ("event id", letter.event_id or "-"),
                        ("payload", f"{letter.size} bytes (not shown)")):
        typer.echo(f"{name:>12}: {value}")


@dlq_app.command("replay")
def replay(address: Annotated[str, typer.Argument(help="TOPIC.dlq:PARTITION:OFFSET")]) -> None:
    """Send the refused record back to its source topic, unchanged, and audit it.

    Consumers know it by its event id: one that acted on it before drops it as a repeat.
    """
    record = _read(address)
    try:
        topic, partition, offset = desk.replay(KafkaSettings(), record)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    _audit_replay(address)
    typer.echo(f"sent back to {topic}:{partition}:{offset} (audited)")


def _read(address: str) -> IncomingRecord:
    try:
        return desk.read_one(KafkaSettings(), address)
    except (ValueError, LookupError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error


def _audit_replay(address: str) -> None:
    """An entry in intake's audit trail: the operator's hand on the event stream."""
    from sqlmodel import Session

    from services.intake.audit import Action, Subject, audit
    from services.intake.db import create_db_engine, migrate
    from shared.settings import IntakeSettings, RuntimeSettings

    engine = create_db_engine(IntakeSettings().effective_database_url(RuntimeSettings()))
    try:
        migrate(engine)
        with Session(engine) as session:
            audit(session, None, Action.DEAD_LETTER_REPLAYED, Subject.DEAD_LETTER,
                  dead_letter_id(address), datetime.now(UTC))
            session.commit()
    finally:
        engine.dispose()


def dead_letter_id(address: str) -> uuid.UUID:
    """A stable id for a dead letter's address (the audit trail holds ids, not names)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"haven:dlq:{address}")
