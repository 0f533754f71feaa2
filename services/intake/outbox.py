"""Transactional outbox: records are written with the change they announce, then relayed.

`enqueue` runs inside the caller's transaction, so a referral and its event are
committed together or not at all. `OutboxRelay` publishes committed rows in id
order and marks them only after the broker acknowledged them (acks=all), so a
crash between the two publishes the row again on restart; consumers dedupe on
`ce_id`. On PostgreSQL several relays share the work (`FOR UPDATE SKIP LOCKED`);
on SQLite run one.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from services.intake.models import OutboxMessage
from shared.kafka import EventPublisher
from shared.records import OutgoingRecord

log = logging.getLogger("haven.intake.outbox")


# Marks a row whose record goes out with a null value; it never leaves the outbox.
TOMBSTONE_HEADER = "haven_tombstone"


def enqueue(session: Session, record: OutgoingRecord, *, event_id: str) -> None:
    """Add a ready record to the outbox in the current transaction."""
    headers = [*record.headers, *([(TOMBSTONE_HEADER, b"1")] if record.tombstone else [])]
    session.add(OutboxMessage(
        event_id=event_id, topic=record.topic, key=record.key, value=record.value,
        headers=[[name, base64.b64encode(value).decode()] for name, value in headers],
    ))


class OutboxRelay:
    """Publishes outbox rows until stopped; safe to kill at any point."""

    def __init__(self, engine: Engine, connect: Callable[[], EventPublisher], *,
                 batch: int = 200) -> None:
        self._engine = engine
        self._connect = connect
        self._publisher: EventPublisher | None = None
        self._batch = batch
        self._skip_locked = engine.dialect.name == "postgresql"

    def publish_pending(self) -> int:
        """Publish one batch; return how many rows were published."""
        with Session(self._engine) as session:
            query = (select(OutboxMessage).where(col(OutboxMessage.published_at).is_(None))
                     .order_by(col(OutboxMessage.id)).limit(self._batch))
            if self._skip_locked:
                query = query.with_for_update(skip_locked=True)
            rows = list(session.exec(query))
            if not rows:
                return 0
            if self._publisher is None:
                self._publisher = self._connect()
            futures = [self._publisher.send(_record(row)) for row in rows]
            self._publisher.flush()
            for future in futures:
                future.get(timeout=30)
            published_at = datetime.now(UTC)
            for row in rows:
                row.published_at = published_at
                row.attempts += 1
            session.commit()
            return len(rows)

    def run(self, stop: threading.Event, *, idle_wait_s: float = 0.2) -> None:
        """Loop until `stop` is set; broker outages are retried with capped backoff."""
        backoff = idle_wait_s
        while not stop.is_set():
            try:
                published = self.publish_pending()
                backoff = idle_wait_s
            except Exception as error:  # any broker or DB failure: retry, never lose rows
                log.warning("outbox publish failed", extra={"reason": type(error).__name__})
                backoff = min(backoff * 2, 5.0)
                published = 0
            if not published:
                stop.wait(backoff)
        if self._publisher is not None:
            self._publisher.close()


def _record(row: OutboxMessage) -> OutgoingRecord:
    headers = [(name, base64.b64decode(value)) for name, value in row.headers]
    wire = [(name, value) for name, value in headers if name != TOMBSTONE_HEADER]
    return OutgoingRecord(topic=row.topic, key=row.key, value=row.value, headers=wire,
                          tombstone=len(wire) < len(headers))
