"""The delivery log: the record that makes a notification's effect happen once.

A notification is *claimed* (committed) before it is sent and marked *sent* after.
Seeing `sent` again is a no-op; seeing `claimed` again means a worker died in the
middle of sending, so the outcome is unknown (`in_doubt`, see handlers.py). Claims
are conditional updates, so two workers sharing a PostgreSQL log never both send.

It also keeps what the notifier must remember between events: a referral's
outreach organization and de-identified need, and a survivor's contact consent.
The survivor's terms stay in their sealed record (bytes as published, opened only
when needed); this database never holds an address in the clear.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.orm import registry
from sqlmodel import Field, Session, SQLModel, col, create_engine, select, update

from shared.events import PlannedNotification

FINAL = frozenset({"sent", "cancelled", "failed", "in_doubt"})


class NotifierTable(SQLModel, registry=registry()):
    """The notifier's own metadata: its tables are not intake's and must not appear in
    intake's schema (intake's migrations are checked against SQLModel's default metadata)."""


class Delivery(NotifierTable, table=True):
    """One notification: its state, attempts and, while it waits, the plan to send it."""

    __tablename__ = "notifier_delivery"

    notification_id: str = Field(primary_key=True, max_length=128)
    referral_id: str = Field(index=True, max_length=64)
    audience: str = Field(max_length=16)
    channel: str = Field(max_length=16)
    state: str = Field(index=True, max_length=16)  # held|claimed|retrying|sent|cancelled|...
    attempts: int = 0
    due_at: datetime | None = Field(default=None, index=True)
    plan: str = ""  # the PlannedNotification as JSON, while held or retrying
    announced: bool = False  # the outcome event was published
    updated_at: datetime


class ReferralRow(NotifierTable, table=True):
    __tablename__ = "notifier_referral"

    referral_id: str = Field(primary_key=True, max_length=64)
    outreach_organization_id: str = Field(max_length=64)
    urgency: str = Field(max_length=32)
    needs: str = Field(max_length=400)


class ContactRow(NotifierTable, table=True):
    """The contact-survivor decision (no personal data) and the sealed terms record."""

    __tablename__ = "notifier_contact"

    referral_id: str = Field(primary_key=True, max_length=64)
    granted: bool = False
    expires_at: datetime | None = None
    terms_value: bytes | None = None
    terms_headers: str = "[]"  # JSON [[name, hex value], ...]: what verification needs
    terms_set_at: datetime | None = None  # the stored terms' set_at: a later record wins
    changed_at: datetime


class OutreachToldRow(NotifierTable, table=True):
    """The last status a referral's outreach team was told of, and the event that told it:
    a change that keeps the status is no news (policy.tells_outreach)."""

    __tablename__ = "notifier_outreach_told"

    referral_id: str = Field(primary_key=True, max_length=64)
    status: str = Field(max_length=32)
    cause_id: str = Field(max_length=128)


class ErasedRow(NotifierTable, table=True):
    """A referral that was erased (its id only): an offer or status about it that is read
    after the erasure plans nothing, whatever topic it came on."""

    __tablename__ = "notifier_erased"

    referral_id: str = Field(primary_key=True, max_length=64)
    erased_at: datetime


def open_log(url: str) -> Engine:
    """Engine for the log; SQLite waits for a lock rather than failing, and syncs each commit."""
    engine = create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    NotifierTable.metadata.create_all(engine)
    _add_missing_columns(engine)
    return engine


def _add_missing_columns(engine: Engine) -> None:
    """Logs made before a column existed get it (create_all adds tables, never columns)."""
    present = {column["name"] for column in inspect(engine).get_columns("notifier_contact")}
    if "terms_set_at" in present:
        return
    if engine.dialect.name == "postgresql":  # workers sharing the log may start together
        statement = ("ALTER TABLE notifier_contact ADD COLUMN IF NOT EXISTS terms_set_at "
                     "TIMESTAMP WITH TIME ZONE")
    else:  # SQLite: one worker per file, and the ALTER itself takes the write lock
        statement = "ALTER TABLE notifier_contact ADD COLUMN terms_set_at DATETIME"
    with engine.begin() as connection:
        connection.execute(text(statement))


def _sqlite_pragmas(connection: Any, _: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a claim must survive a crash
    cursor.close()


def now() -> datetime:
    return datetime.now(UTC)


def claim(engine: Engine, *, notification_id: str, referral_id: str, audience: str,
          channel: str, resend_claimed: bool = False) -> str:
    """Take the right to send: "ours" if it is ours now, else the state we found."""
    with Session(engine) as session:
        found = session.get(Delivery, notification_id)
        if found is None:
            session.add(Delivery(notification_id=notification_id, referral_id=referral_id,
                                 audience=audience, channel=channel, state="claimed",
                                 attempts=1, updated_at=now()))
            try:
                session.commit()
                return "ours"
            except Exception:  # another worker inserted it first
                session.rollback()
                found = session.get(Delivery, notification_id)
                return found.state if found is not None else "claimed-elsewhere"
        if found.state not in ("held", "retrying", *(("claimed",) if resend_claimed else ())):
            return found.state
        taken = session.execute(
            update(Delivery).where(col(Delivery.notification_id) == notification_id,
                                   col(Delivery.state) == found.state)
            .values(state="claimed", attempts=Delivery.attempts + 1, updated_at=now()))
        session.commit()
        return "ours" if taken.rowcount == 1 else "claimed-elsewhere"  # type: ignore[attr-defined]


def settle(engine: Engine, notification_id: str, state: str, *, due_at: datetime | None = None,
           plan: str = "", referral_id: str = "", audience: str = "", channel: str = "") -> None:
    """Record a new state (sent, held, retrying, cancelled, failed, in_doubt)."""
    with Session(engine) as session:
        row = session.get(Delivery, notification_id)
        if row is None:
            row = Delivery(notification_id=notification_id, referral_id=referral_id,
                           audience=audience, channel=channel, state=state, updated_at=now())
        row.state, row.due_at, row.updated_at, row.announced = state, due_at, now(), False
        row.plan = plan if state in ("held", "retrying") else ""
        session.add(row)
        session.commit()


def get(engine: Engine, notification_id: str) -> Delivery | None:
    with Session(engine) as session:
        return session.get(Delivery, notification_id)


def mark_announced(engine: Engine, notification_id: str) -> None:
    with Session(engine) as session:
        session.execute(update(Delivery).where(col(Delivery.notification_id) == notification_id)
                        .values(announced=True))
        session.commit()


def due(engine: Engine, at: datetime, limit: int = 200) -> list[Delivery]:
    """Held notifications whose time has come."""
    with Session(engine) as session:
        return list(session.exec(select(Delivery).where(
            col(Delivery.state) == "held", col(Delivery.due_at) <= at).limit(limit)))


def cancel_survivor(engine: Engine, referral_id: str) -> list[str]:
    """Cancel every survivor notification of the referral that has not gone out yet."""
    with Session(engine) as session:
        rows = list(session.exec(select(Delivery).where(
            col(Delivery.referral_id) == referral_id, col(Delivery.audience) == "survivor",
            col(Delivery.state).in_(("held", "retrying")))))
        for row in rows:
            row.state, row.plan, row.updated_at, row.announced = "cancelled", "", now(), False
            session.add(row)
        session.commit()
        return [row.notification_id for row in rows]


def expired_with_queue(engine: Engine, at: datetime) -> list[str]:
    """Referrals whose contact consent has expired while survivor messages still wait."""
    with Session(engine) as session:
        rows = session.exec(select(Delivery.referral_id).join(
            ContactRow, col(ContactRow.referral_id) == col(Delivery.referral_id)).where(
            col(Delivery.audience) == "survivor",
            col(Delivery.state).in_(("held", "retrying")),
            col(ContactRow.expires_at).is_not(None), col(ContactRow.expires_at) <= at))
        return sorted(set(rows))


def remember_referral(engine: Engine, row: ReferralRow) -> None:
    with Session(engine) as session:
        session.merge(row)
        session.commit()


def referral(engine: Engine, referral_id: str) -> ReferralRow | None:
    with Session(engine) as session:
        return session.get(ReferralRow, referral_id)


def contact(engine: Engine, referral_id: str) -> ContactRow | None:
    with Session(engine) as session:
        return session.get(ContactRow, referral_id)


def save_contact(engine: Engine, row: ContactRow) -> None:
    with Session(engine) as session:
        session.merge(row)
        session.commit()


def waiting_survivor(engine: Engine, referral_id: str) -> list[Delivery]:
    """The referral's survivor messages that have not gone out: held, or waiting for a retry."""
    with Session(engine) as session:
        return list(session.exec(select(Delivery).where(
            col(Delivery.referral_id) == referral_id, col(Delivery.audience) == "survivor",
            col(Delivery.state).in_(("held", "retrying")))))


Move = tuple[str, PlannedNotification | None]  # (waiting id, its plan under new terms or None)


def save_terms(engine: Engine, row: ContactRow, moves: Sequence[Move]) -> list[str]:
    """New terms and what they do to waiting survivor messages, in one transaction, so a
    crash leaves either the old terms with the old plans or the new with the new.

    Same id: the held message keeps waiting, until the new plan's time. Another id
    (another channel) or None: the waiting one is cancelled, and the new one held, due
    at its time. Only rows still held or retrying change (a claimed one is being sent).
    Returns the ids cancelled, whose outcome must be announced.
    """
    with Session(engine) as session:
        session.merge(row)
        cancelled: list[str] = []
        for waiting_id, plan in moves:
            kept = plan.model_copy(update={"fields": {}}) if plan is not None else None
            if kept is not None and kept.notification_id == waiting_id:
                session.execute(update(Delivery).where(
                    col(Delivery.notification_id) == waiting_id, col(Delivery.state) == "held")
                    .values(due_at=kept.not_before, plan=kept.model_dump_json(),
                            updated_at=now()))
                continue
            gone = session.execute(update(Delivery).where(
                col(Delivery.notification_id) == waiting_id,
                col(Delivery.state).in_(("held", "retrying")))
                .values(state="cancelled", plan="", announced=False, updated_at=now()))
            if gone.rowcount != 1:  # type: ignore[attr-defined]
                continue
            cancelled.append(waiting_id)
            if kept is not None and session.get(Delivery, kept.notification_id) is None:
                session.add(Delivery(
                    notification_id=kept.notification_id, referral_id=row.referral_id,
                    audience="survivor", channel=kept.channel, state="held",
                    due_at=kept.not_before, plan=kept.model_dump_json(), updated_at=now()))
        session.commit()
        return cancelled


def outreach_told(engine: Engine, referral_id: str) -> OutreachToldRow | None:
    with Session(engine) as session:
        return session.get(OutreachToldRow, referral_id)


def remember_told(engine: Engine, row: OutreachToldRow) -> None:
    """Recorded before the messages go: a crash in between replays the same cause, which
    is planned again and settled by the delivery rows (sent once)."""
    with Session(engine) as session:
        session.merge(row)
        session.commit()


def forget_referral(engine: Engine, referral_id: str, *, erased_at: datetime) -> None:
    """Erasure: drop the referral's facts and sealed terms (the delivery rows hold only ids),
    and remember that it was erased."""
    with Session(engine) as session:
        for model in (ReferralRow, ContactRow, OutreachToldRow):
            found = session.get(model, referral_id)
            if found is not None:
                session.delete(found)
        session.merge(ErasedRow(referral_id=referral_id, erased_at=erased_at))
        session.commit()


def erased(engine: Engine, referral_id: str) -> bool:
    with Session(engine) as session:
        return session.get(ErasedRow, referral_id) is not None


def cancel_waiting(engine: Engine, referral_id: str) -> list[str]:
    """Erasure: cancel every notification of the referral that has not gone out yet, to
    anyone (the person, the provider's reminders, the outreach team)."""
    with Session(engine) as session:
        rows = list(session.exec(select(Delivery).where(
            col(Delivery.referral_id) == referral_id,
            col(Delivery.state).in_(("held", "retrying")))))
        for row in rows:
            row.state, row.plan, row.updated_at, row.announced = "cancelled", "", now(), False
            session.add(row)
        session.commit()
        return [row.notification_id for row in rows]
