"""The audit trail is tamper-evident (issue 14): an edited, deleted, reordered or cut-off
entry is found by `haven audit verify`, which names the exact entry, on SQLite and on
PostgreSQL. The tampering is what someone with database access would do: raw SQL.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from services.cli import app as haven
from services.intake.audit import Action, Subject, audit
from services.intake.audit_chain import Verdict, link_audit_entries, link_once, verify
from services.intake.models import AuditChainHead, AuditEntry
from tests.support.intake import Intake, running_intake
from tests.support.intake_fixtures import database_fixture
from tests.support.pages import engine
from tests.support.processes import wait_until

database_url = database_fixture("audit_chain")


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="module")
def intake(database_url: str, var_dir: Path) -> Iterator[Intake]:
    with running_intake(var_dir=var_dir, database_url=database_url) as running:
        with Session(engine(running)) as session:  # a few more entries than the sign-ins
            for _ in range(5):
                audit(session, None, Action.REFERRAL_VIEWED, Subject.REFERRAL, uuid.uuid4(),
                      datetime.now(UTC))
            session.commit()
        link_once(engine(running), _key(running))
        yield running


def _key(intake: Intake) -> bytes:
    return intake.client.app.state.ports.vault.audit_key  # type: ignore[attr-defined, no-any-return]


def _entries(intake: Intake) -> list[AuditEntry]:
    with Session(engine(intake)) as session:
        return list(session.exec(select(AuditEntry).order_by(col(AuditEntry.sequence))))


def _sql(intake: Intake, statement: str, **values: object) -> None:
    with engine(intake).begin() as connection:
        connection.execute(text(statement), values)


@pytest.fixture
def tamper(intake: Intake) -> Iterator[Callable[..., None]]:
    """Raw SQL against the trail, undone after the test (the module's trail stays whole)."""
    before = _entries(intake)
    with Session(engine(intake)) as session:
        head = session.get(AuditChainHead, 1)
        assert head is not None
        head_before = head.model_dump()
    yield lambda statement, **values: _sql(intake, statement, **values)
    _sql(intake, "DELETE FROM auditentry")
    with Session(engine(intake)) as session:
        for entry in before:
            session.add(AuditEntry.model_validate(entry.model_dump()))
        session.merge(AuditChainHead.model_validate(head_before))
        session.commit()
    with Session(engine(intake)) as session:
        assert verify(session, _key(intake)).intact


def _verdict(intake: Intake) -> Verdict:
    with Session(engine(intake)) as session:
        return verify(session, _key(intake))


def test_an_untouched_trail_is_intact_and_new_entries_are_linked(intake: Intake) -> None:
    verdict = _verdict(intake)
    assert verdict.intact and verdict.linked >= 9 and verdict.pending == 0
    entries = _entries(intake)
    assert [e.sequence for e in entries] == list(range(1, len(entries) + 1))


def test_an_edited_entry_is_named(intake: Intake, tamper: Callable[..., None]) -> None:
    victim = _entries(intake)[3]
    tamper("UPDATE auditentry SET action = 'referral.submitted' WHERE id = :id", id=victim.id)
    finding = _verdict(intake).finding
    assert finding is not None and finding.entry_id == victim.id
    assert "edited" in finding.problem


def test_a_deleted_entry_is_found_at_the_next_one(intake: Intake,
                                                  tamper: Callable[..., None]) -> None:
    entries = _entries(intake)
    tamper("DELETE FROM auditentry WHERE id = :id", id=entries[2].id)
    finding = _verdict(intake).finding
    assert finding is not None and finding.entry_id == entries[3].id
    assert f"sequence {entries[2].sequence} is missing" in finding.problem


def test_two_swapped_entries_are_found(intake: Intake, tamper: Callable[..., None]) -> None:
    first, second = _entries(intake)[4:6]
    # Swap their places in the chain (the unique sequence needs a free value in between).
    tamper("UPDATE auditentry SET sequence = -1 WHERE id = :id", id=first.id)
    tamper("UPDATE auditentry SET sequence = :s WHERE id = :id", s=first.sequence, id=second.id)
    tamper("UPDATE auditentry SET sequence = :s WHERE id = :id", s=second.sequence, id=first.id)
    finding = _verdict(intake).finding
    assert finding is not None and finding.entry_id == second.id
    assert "does not link" in finding.problem


def test_a_cut_off_tail_is_found(intake: Intake, tamper: Callable[..., None]) -> None:
    last = _entries(intake)[-1]
    tamper("DELETE FROM auditentry WHERE id = :id", id=last.id)
    finding = _verdict(intake).finding
    assert finding is not None and finding.entry_id is None
    assert "entries at the end were deleted" in finding.problem


def test_a_chain_rewritten_without_the_key_does_not_verify(
        intake: Intake, tamper: Callable[..., None]) -> None:
    """Someone with database access only recomputes every link with another key."""
    forger_key = b"F" * 32
    tamper("UPDATE auditentry SET sequence = NULL, previous_hash = NULL, entry_hash = NULL")
    tamper("UPDATE auditchainhead SET sequence = 0, last_hash = :genesis", genesis="0" * 64)
    link_once(engine(intake), forger_key)
    finding = _verdict(intake).finding
    assert finding is not None and finding.entry_id == _entries(intake)[0].id


def test_haven_audit_verify_exits_1_and_names_the_entry(
        intake: Intake, tamper: Callable[..., None], database_url: str, var_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_VAR_DIR", str(var_dir))
    monkeypatch.setenv("HAVEN_INTAKE_DATABASE_URL", database_url)
    intact = CliRunner().invoke(haven, ["audit", "verify"])
    assert intact.exit_code == 0, intact.output
    assert "intact" in intact.output
    victim = _entries(intake)[1]
    tamper("UPDATE auditentry SET role = 'network_admin' WHERE id = :id", id=victim.id)
    broken = CliRunner().invoke(haven, ["audit", "verify"])
    assert broken.exit_code == 1
    assert f"entry {victim.id} (sequence {victim.sequence})" in broken.output


def test_intakes_chainer_links_new_entries_within_seconds(intake: Intake) -> None:
    with Session(engine(intake)) as session:
        audit(session, None, Action.CONTACT_VIEWED, Subject.REFERRAL, uuid.uuid4(),
              datetime.now(UTC))
        session.commit()
    assert _verdict(intake).pending == 1
    stop = threading.Event()
    chainer = threading.Thread(target=link_audit_entries,
                               args=(engine(intake), _key(intake), stop),
                               kwargs={"every_s": 0.1})
    chainer.start()
    try:
        assert wait_until(lambda: _verdict(intake).pending == 0, 30)
    finally:
        stop.set()
        chainer.join(timeout=10)
    assert _verdict(intake).intact
