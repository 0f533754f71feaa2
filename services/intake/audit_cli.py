"""`haven audit verify`: is the audit trail as it was written? Exit 0 intact, 1 broken."""

from __future__ import annotations

import typer

from shared.settings import IntakeSettings, RuntimeSettings

audit_app = typer.Typer(help="The audit trail: check that no entry was edited, deleted or "
                             "reordered.")


@audit_app.command("verify")
def verify_trail(link_first: bool = typer.Option(
        False, help="link entries not yet in the chain first (as intake would within seconds)",
)) -> None:
    """Walk the whole chain; name the first entry that does not hold."""
    # Imported here: `haven --help` should not load intake's whole app.
    from sqlmodel import Session

    from services.intake.audit_chain import link_once, verify
    from services.intake.db import create_db_engine
    from services.intake.main import load_vault

    runtime, intake = RuntimeSettings(), IntakeSettings()
    key = load_vault(intake=intake, runtime=runtime).audit_key
    engine = create_db_engine(intake.effective_database_url(runtime))
    try:
        if link_first:
            link_once(engine, key)
        with Session(engine) as session:
            verdict = verify(session, key)
    finally:
        engine.dispose()
    typer.echo(f"{verdict.linked} entries in the chain, {verdict.pending} not linked yet")
    if verdict.finding is not None:
        typer.echo(f"BROKEN at {verdict.finding}", err=True)
        raise typer.Exit(1)
    typer.echo("the audit trail is intact")
