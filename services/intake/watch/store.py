"""The watch's reads and writes on intake's tables; `rules.py` decides what they mean.

What the watch did is recorded in the referral's timeline under ids of its own
(`watch:<referral>:<step>`, unique like every timeline event id), so the outreach
worker's page shows it, and two intake processes watching one database cannot both
act: the second insert fails and its transaction, resend included, rolls back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlmodel import Session, col, select, update

from services.intake import consent_terms
from services.intake.models import ConsentRecord, OutboxMessage, Referral, TimelineEntry
from services.intake.vault import Vault
from services.intake.watch.models import NotificationOutcome
from services.intake.watch.rules import Action, Placement, Stuck, Submission, still_stuck
from shared import topics
from shared.events import NotificationDelivered
from shared.notification_ids import notification_id, survivor_recipient

RESENT = "watch:resent"
ALERT_KINDS: dict[Stuck, str] = {"matching": "alert:stuck:matching",
                                 "survivor_message": "alert:stuck:survivor_message"}
SURVIVOR_CHANNELS = ("sms", "email")  # the notifier writes on these; a call is a person's job
PLACED = "status:placed"
BATCH = 300  # referrals per query: SQLite allows a few hundred values in an IN list
T = TypeVar("T")


def outcome_reported(session: Session, event: NotificationDelivered) -> None:
    """Keep the newest outcome per notification (from the projector's transaction)."""
    if event.referral_id is None:
        return
    row = session.get(NotificationOutcome, event.notification_id)
    if row is not None and _aware(row.at) > event.at:
        return  # an older outcome arriving late
    row = row or NotificationOutcome(notification_id=event.notification_id,
                                     referral_id=event.referral_id, channel=event.channel,
                                     outcome=event.outcome, at=event.at)
    row.channel, row.outcome, row.at = event.channel, event.outcome, event.at
    session.add(row)


def submissions(session: Session, *, referral_ids: Sequence[uuid.UUID] | None = None
                ) -> list[Submission]:
    """Referrals matching has not answered (still `submitted`), oldest first; or the
    given referrals, answered or not."""
    query = select(Referral.id, Referral.created_at, Referral.status).where(
        col(Referral.erased_at).is_(None))
    query = (query.where(Referral.status == "submitted") if referral_ids is None
             else query.where(col(Referral.id).in_(referral_ids)))
    rows = session.exec(query.order_by(col(Referral.created_at))).all()
    found: list[Submission] = []
    for chunk in _chunks(rows):
        marks = _marks(session, [r[0] for r in chunk], (RESENT, ALERT_KINDS["matching"]))
        found += [Submission(referral_id=referral, submitted_at=_aware(created),
                             answered=status != "submitted",
                             resent_at=marks.get((referral, RESENT)),
                             alerted=(referral, ALERT_KINDS["matching"]) in marks)
                  for referral, created, status in chunk]
    return found


def placements(session: Session, *, vault: Vault, now: datetime, look_back: timedelta,
               referral_ids: Sequence[uuid.UUID] | None = None) -> list[Placement]:
    """Referrals placed within `look_back` (or the given ones): is the survivor's message
    due, and did the notifier report it."""
    query = select(Referral.id).where(col(Referral.erased_at).is_(None),
                                      Referral.status == "placed")
    query = (query.where(col(Referral.id).in_(referral_ids)) if referral_ids is not None
             else query.where(col(Referral.updated_at) >= now - look_back))
    ids = list(session.exec(query).all())
    return [p for chunk in _chunks(ids) for p in _placements_of(session, vault, chunk, now)]


def _placements_of(session: Session, vault: Vault, ids: Sequence[uuid.UUID], now: datetime
                   ) -> list[Placement]:
    placed: dict[uuid.UUID, list[TimelineEntry]] = {}
    for entry in session.exec(select(TimelineEntry).where(
            col(TimelineEntry.referral_id).in_(ids), TimelineEntry.kind == PLACED)):
        placed.setdefault(entry.referral_id, []).append(entry)
    expected = {referral: _survivor_ids(referral, entries) for referral, entries in placed.items()}
    wanted = [n for names in expected.values() for n in names]
    reported = set(session.exec(select(NotificationOutcome.notification_id).where(
        col(NotificationOutcome.notification_id).in_(wanted))).all()) if wanted else set()
    due = _contact_due(session, vault, ids, now)
    marks = _marks(session, ids, (ALERT_KINDS["survivor_message"],))
    return [Placement(referral_id=referral, placed_at=min(_aware(e.at) for e in entries),
                      survivor_due=referral in due,
                      survivor_reported=bool(expected[referral] & reported),
                      alerted=(referral, ALERT_KINDS["survivor_message"]) in marks)
            for referral, entries in placed.items()]


def resend(session: Session, action: Action, now: datetime) -> bool:
    """Put the referral's submission back in the outbox as it was (same record, same event
    id) and note it in the timeline; False when the outbox no longer holds it."""
    referral = session.get(Referral, action.referral_id)
    if referral is None or referral.erased_at is not None:
        return False  # erased since the round began: its record could not be opened anyway
    found = session.execute(update(OutboxMessage).where(
        col(OutboxMessage.topic) == topics.REFERRAL_SUBMITTED.name,
        col(OutboxMessage.key) == str(action.referral_id).encode())
        .values(published_at=None)).rowcount  # type: ignore[attr-defined]
    session.add(TimelineEntry(
        event_id=_mark_id(action.referral_id, RESENT), referral_id=action.referral_id, at=now,
        kind=RESENT, detail="" if found else "it was no longer in the outbox"))
    return bool(found)


def alert(session: Session, action: Action, now: datetime) -> None:
    """The alert admins see on the dashboard and the outreach worker on the referral page."""
    kind = ALERT_KINDS[action.stuck]
    session.add(TimelineEntry(event_id=_mark_id(action.referral_id, kind),
                              referral_id=action.referral_id, at=now, kind=kind,
                              detail=f"since {action.since:%Y-%m-%d %H:%M} UTC"))


def alerted(session: Session, *, limit: int = 200) -> list[TimelineEntry]:
    """The newest stuck alerts (open or settled since), for the dashboard to check."""
    return list(session.exec(select(TimelineEntry).where(
        col(TimelineEntry.kind).in_(list(ALERT_KINDS.values())))
        .order_by(col(TimelineEntry.id).desc()).limit(limit)))


@dataclass(frozen=True)
class OpenAlert:
    """A stuck alert whose cause still holds, for the admins' dashboard and the page."""

    referral_id: uuid.UUID
    organization_id: uuid.UUID
    stuck: Stuck
    alerted_at: datetime
    detail: str


def open_alerts(session: Session, *, vault: Vault, now: datetime,
                referral_id: uuid.UUID | None = None) -> list[OpenAlert]:
    """Stuck alerts not settled since (a status came, the message was reported), newest
    first; for one referral, or the newest across the network."""
    entries = (alerted(session) if referral_id is None else list(session.exec(
        select(TimelineEntry).where(TimelineEntry.referral_id == referral_id,
                                    col(TimelineEntry.kind).in_(list(ALERT_KINDS.values()))))))
    ids = sorted({e.referral_id for e in entries})
    facts: dict[tuple[uuid.UUID, str], Submission | Placement] = {
        (f.referral_id, ALERT_KINDS["matching"]): f for f in submissions(session, referral_ids=ids)}
    facts.update({(f.referral_id, ALERT_KINDS["survivor_message"]): f for f in placements(
        session, vault=vault, now=now, look_back=timedelta(0), referral_ids=ids)})
    owners = dict(session.exec(select(Referral.id, Referral.organization_id).where(
        col(Referral.id).in_(ids))).all()) if ids else {}
    kinds = {kind: stuck for stuck, kind in ALERT_KINDS.items()}
    return [OpenAlert(e.referral_id, owners[e.referral_id], kinds[e.kind], _aware(e.at), e.detail)
            for e in entries if (fact := facts.get((e.referral_id, e.kind))) is not None
            and still_stuck(fact)]


def _survivor_ids(referral: uuid.UUID, placed: Iterable[TimelineEntry]) -> set[str]:
    """The notifier plans the survivor's message from the `placed` status event: its id is
    derived from that event's id, the survivor and the channel."""
    recipient = survivor_recipient(str(referral))
    return {notification_id(entry.event_id, recipient, channel)
            for entry in placed for channel in SURVIVOR_CHANNELS}


def _contact_due(session: Session, vault: Vault, ids: Sequence[uuid.UUID], now: datetime
                 ) -> set[uuid.UUID]:
    """Referrals whose contact consent is in force now, on a channel the notifier writes on
    (the channel is in the record's terms, sealed like the rest of the referral)."""
    records = session.exec(select(ConsentRecord).where(
        col(ConsentRecord.referral_id).in_(ids), ConsentRecord.scope == "contact_survivor",
        col(ConsentRecord.revoked_at).is_(None), col(ConsentRecord.granted).is_(True))).all()
    return {r.referral_id for r in records
            if (r.expires_at is None or _aware(r.expires_at) > now)
            and (consent_terms.opened(session, vault, r) or {}).get("channel")
            in SURVIVOR_CHANNELS}


def _marks(session: Session, ids: Sequence[uuid.UUID], kinds: Sequence[str]
           ) -> dict[tuple[uuid.UUID, str], datetime]:
    wanted = [_mark_id(referral, kind) for referral in ids for kind in kinds]
    if not wanted:
        return {}
    entries = session.exec(select(TimelineEntry).where(col(TimelineEntry.event_id).in_(wanted)))
    return {(e.referral_id, e.kind): _aware(e.at) for e in entries}


def _chunks(rows: Sequence[T]) -> Iterator[Sequence[T]]:
    """Slices small enough for an IN list on every database (SQLite counts variables)."""
    for first in range(0, len(rows), BATCH):
        yield rows[first:first + BATCH]


def _mark_id(referral: uuid.UUID, kind: str) -> str:
    return f"watch:{referral}:{kind.removeprefix('alert:stuck:').removeprefix('watch:')}"


def _aware(at: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were stored in UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
