"""The audit trail made tamper-evident: every entry linked to the one before by a keyed hash.

Who saw a survivor's referral must stay provable, also against someone who can write
to the database. Each entry gets a place in one chain (`sequence` 1, 2, 3 …) and
`entry_hash = HMAC(key, previous_hash ‖ sequence ‖ the entry's fields)`; the chain's
head (last sequence and hash) is kept in its own row. An edited entry no longer
matches its hash, a deleted one leaves a gap in the sequence, a reordered pair breaks
the links, and a cut-off tail no longer reaches the head. The key lives in a file
beside intake's other keys, not in the database, so database access alone cannot
write a new, consistent chain.

Entries are linked by a chainer a few seconds after they are written, in the order it
finds them, not inside the request's transaction: linking there would make every
audited transaction wait for one head row (and deadlock against each other on
PostgreSQL). Until linked, an entry is reported as pending by `verify`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, func, select

from services.intake.models import AuditChainHead, AuditEntry

log = logging.getLogger("haven.intake.audit")
GENESIS = "0" * 64  # the previous hash of the first entry
HEAD_ID = 1
BATCH = 500


def entry_hash(key: bytes, *, previous_hash: str, sequence: int, entry: AuditEntry) -> str:
    """The keyed hash that links `entry` at `sequence` after `previous_hash`."""
    fields = [sequence, previous_hash, _instant(entry.at), _text(entry.actor_id),
              _text(entry.organization_id), entry.role, entry.action, entry.subject_type,
              _text(entry.subject_id)]
    message = json.dumps(fields, separators=(",", ":")).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _instant(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def _text(value: object) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Finding:
    """The first place where the chain does not hold: which entry, and what is wrong."""

    entry_id: int | None
    sequence: int
    problem: str

    def __str__(self) -> str:
        where = f"entry {self.entry_id}" if self.entry_id is not None else "the chain's end"
        return f"{where} (sequence {self.sequence}): {self.problem}"


@dataclass(frozen=True)
class Verdict:
    linked: int
    pending: int
    finding: Finding | None

    @property
    def intact(self) -> bool:
        return self.finding is None


def check(key: bytes, linked: Iterable[AuditEntry], *, head_sequence: int,
          head_hash: str) -> Finding | None:
    """Walk the linked entries in sequence order; the first break, or None if all hold."""
    expected_sequence, previous = 1, GENESIS
    for entry in linked:
        assert entry.sequence is not None
        if entry.sequence != expected_sequence:
            missing = "missing" if entry.sequence > expected_sequence else "repeated"
            return Finding(entry.id, entry.sequence,
                           f"sequence {expected_sequence} is {missing} before this entry "
                           "(an entry was deleted or reordered)")
        if entry.previous_hash != previous:
            return Finding(entry.id, entry.sequence,
                           "it does not link to the entry before it (reordered or replaced)")
        if not hmac.compare_digest(entry.entry_hash or "", entry_hash(
                key, previous_hash=previous, sequence=entry.sequence, entry=entry)):
            return Finding(entry.id, entry.sequence,
                           "its content does not match its hash (the entry was edited)")
        previous, expected_sequence = entry.entry_hash or "", expected_sequence + 1
    last = expected_sequence - 1
    if last != head_sequence:
        return Finding(None, head_sequence,
                       f"the chain ends at sequence {last}, its head says {head_sequence} "
                       "(entries at the end were deleted)")
    if previous != head_hash:
        return Finding(None, head_sequence,
                       "the last entry is not the one the head names (the chain was rewritten)")
    return None


def link_pending(session: Session, key: bytes) -> int:
    """Link up to BATCH entries not yet in the chain; the caller commits. Returns how many.

    The head is moved with a compare-and-set, so two intake processes linking at once
    cannot both extend it: one of them updates nothing and rolls back.
    """
    head = session.get(AuditChainHead, HEAD_ID)
    if head is None:
        raise RuntimeError("the audit chain has no head row (run the migrations)")
    pending: Sequence[AuditEntry] = session.exec(
        select(AuditEntry).where(col(AuditEntry.sequence).is_(None))
        .order_by(col(AuditEntry.id)).limit(BATCH)).all()
    if not pending:
        return 0
    sequence, previous = head.sequence, head.last_hash
    for entry in pending:
        sequence += 1
        entry.sequence, entry.previous_hash = sequence, previous
        entry.entry_hash = previous = entry_hash(key, previous_hash=entry.previous_hash,
                                                 sequence=sequence, entry=entry)
        session.add(entry)
    moved = session.execute(update(AuditChainHead).where(
        col(AuditChainHead.id) == HEAD_ID, col(AuditChainHead.sequence) == head.sequence)
        .values(sequence=sequence, last_hash=previous)).rowcount  # type: ignore[attr-defined]
    if moved != 1:
        raise ChainRace("another process moved the audit chain's head")
    return len(pending)


class ChainRace(Exception):
    """Another intake process linked first; this batch is rolled back and tried again."""


def verify(session: Session, key: bytes) -> Verdict:
    """Check the whole chain against its head; read-only."""
    head = session.get(AuditChainHead, HEAD_ID)
    if head is None:
        return Verdict(0, 0, Finding(None, 0, "the chain's head row is missing"))
    linked = session.exec(select(AuditEntry).where(col(AuditEntry.sequence).is_not(None))
                          .order_by(col(AuditEntry.sequence)).execution_options(yield_per=1000))
    finding = check(key, linked, head_sequence=head.sequence, head_hash=head.last_hash)
    counted = session.exec(select(func.count()).select_from(AuditEntry)
                           .where(col(AuditEntry.sequence).is_not(None))).one()
    pending = session.exec(select(func.count()).select_from(AuditEntry)
                           .where(col(AuditEntry.sequence).is_(None))).one()
    return Verdict(linked=int(counted), pending=int(pending), finding=finding)


LINK_EVERY_S = 2.0


def link_audit_entries(engine: Engine, key: bytes, stop: threading.Event, *,
                       every_s: float = LINK_EVERY_S) -> None:
    """Intake's chainer thread: link new entries every `every_s` until `stop` is set."""
    while not stop.wait(every_s):
        try:
            while link_once(engine, key) == BATCH and not stop.is_set():
                pass  # a backlog (first run after the migration): keep going
        except (ChainRace, SQLAlchemyError) as error:  # another process, a busy database
            log.info("audit chain round skipped", extra={"reason": type(error).__name__})


def link_once(engine: Engine, key: bytes) -> int:
    """One committed batch; how many entries it linked."""
    with Session(engine) as session:
        linked = link_pending(session, key)
        session.commit()
    return linked
