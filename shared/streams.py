"""Faust at the edges: the one app factory the workers use, and the decode-or-dead-letter loop.

Agents stay about five lines: `async for envelope in verified(stream, ...)` hands
them only events that passed the codec; everything else is already on its
dead-letter topic with a reason, and the stream goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import faust
from aiokafka.errors import KafkaError
from faust.types import TableT

from shared.dead_letters import dead_letter
from shared.grant_follower import GrantFollower
from shared.partitioning import referral_partitioner
from shared.protection import needed_grants
from shared.records import Envelope, IncomingRecord, OutgoingRecord, RecordCodec, RejectedRecord
from shared.settings import KafkaSettings, RuntimeSettings
from shared.topics import CATALOG, TopicSpec

log = logging.getLogger("haven.streams")


def create_faust_app(
    service: str, *, kafka: KafkaSettings, runtime: RuntimeSettings, web_port: int | None,
    app_id: str | None = None, web_bind: str = "127.0.0.1",
) -> faust.App:
    """A worker app wired to our broker, our serializers and our topic policy.

    `app_id` is the consumer group and prefixes table changelogs (tests run isolated
    groups side by side on one broker). The web view listens on `web_bind` only
    (loopback unless configured: it has no sign-in).
    """
    datadir = runtime.var_dir / "faust" / service
    datadir.mkdir(parents=True, exist_ok=True)
    return _App(
        app_id or f"haven-{service}",
        broker=f"kafka://{kafka.bootstrap_servers}",
        datadir=str(datadir),
        # Bytes in, bytes out: the envelope codec, not Faust, decides what a value means.
        key_serializer="raw",
        value_serializer="raw",
        # Topics come from shared/topics.py via `haven topics create`, never implicitly.
        topic_allow_declare=False,
        topic_disable_leader=True,
        topic_replication_factor=kafka.replication_factor,
        producer_acks=-1,
        producer_partitioner=referral_partitioner,
        consumer_auto_offset_reset="earliest",
        web_enabled=web_port is not None,
        web_port=web_port or 6066,
        web_host="127.0.0.1",
        web_bind=web_bind,
        # A killed worker's partitions move to a live one within seconds, not a minute.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
    )


class _App(faust.App):
    """Faust's App, except that a message no stream handled is never acknowledged.

    During a rebalance Faust's stream skips messages fetched before it (flow control
    suspended, or an older consumer generation) and acks them on the way out, as if
    handled (faust/streams.py `_py_aiter`). A partition this worker keeps then has its
    offset committed past a record nobody processed, and the seek after the rebalance
    goes to that commit: the submission is never seen again (issue 18). Left unacked,
    the skipped record holds the commit back until the seek fetches it again.

    Likewise an offset jump in what the consumer fetches is not taken as processed.
    Faust counts the offsets between as acknowledged (meant for compaction and
    transaction markers); after a seek that failed in a rebalance ("exception performing
    seek") the jump covers records fetched earlier, dropped with the stream buffers and
    never handled, and committing over them lost a run of submissions. Here a jump
    holds the commit back and, on an append-only topic, seeks back to its start so the
    skipped records are fetched and handled (the records after it may be handled twice,
    which every handler takes as a repeat). On a compacted topic a jump is normal and
    only holds the commit back, so a restart reads that region again.
    """

    def _new_consumer(self) -> Any:
        consumer = super()._new_consumer()
        acknowledge = consumer.ack

        def ack(message: Any) -> bool:
            if not message.tracked and self.topics.acks_enabled_for(message.topic):
                return False  # skipped, not handled: to be fetched and handled again
            return bool(acknowledge(message))

        read_offsets = _ReadOffsets(getattr(consumer, "_read_offset"))  # noqa: B009

        async def add_gap(tp: Any, offset_from: int, offset_to: int) -> None:
            rewind = tp.topic not in _COMPACTED
            log.warning("offset jump not counted as processed",
                        extra={"topic": tp.topic, "partition": tp.partition,
                               "from": offset_from, "to": offset_to, "rewind": rewind})
            if rewind:
                try:
                    await consumer.seek(tp, offset_from)
                except Exception as error:  # not assigned any more: its next owner reads it
                    log.warning("rewind failed", extra={"reason": type(error).__name__})
                    return
                read_offsets.hold(tp, offset_from)

        setattr(consumer, "ack", ack)  # noqa: B010  # an instance attribute wins over the method
        setattr(consumer, "_add_gap", add_gap)  # noqa: B010
        setattr(consumer, "_read_offset", read_offsets)  # noqa: B010
        return consumer


_COMPACTED = frozenset(spec.name for spec in CATALOG if spec.cleanup != "delete")


class _ReadOffsets(dict[Any, Any]):
    """Faust's read offsets, except that after a rewind the offset stays where the seek
    put it until the rewound records come: else the fetch loop would record the jumped-to
    offset right after the seek and drop the refetched records as already read."""

    def __init__(self, current: dict[Any, Any]) -> None:
        super().__init__(current)
        self._held: dict[Any, int] = {}

    def hold(self, tp: Any, offset: int) -> None:
        self._held[tp] = offset
        super().__setitem__(tp, offset)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Faust's seek to committed offsets: that position wins over any rewind."""
        self._held.clear()
        super().update(*args, **kwargs)

    def pop(self, tp: Any, *default: Any) -> Any:
        self._held.pop(tp, None)
        return super().pop(tp, *default)

    def __missing__(self, tp: Any) -> None:
        return None  # Faust's own is a defaultdict(lambda: None)

    def __setitem__(self, tp: Any, offset: Any) -> None:
        held = self._held.get(tp)
        if held is not None and offset is not None and offset > held:
            return  # a record of the stale batch beyond the rewind: keep the rewind
        self._held.pop(tp, None)
        super().__setitem__(tp, offset)


def faust_topic(app: faust.App, spec: TopicSpec) -> faust.TopicT:
    """The Faust handle of a catalog topic (raw bytes; the codec does the rest)."""
    return app.topic(spec.name, key_type=bytes, value_type=bytes, partitions=spec.partitions)


async def verified(
    stream: faust.StreamT[Any], *, app: faust.App, codec: RecordCodec, consumer: str,
    grants: GrantFollower | None = None,
) -> AsyncIterator[Envelope]:
    """Yield the events that verify and decode; dead-letter the others with their reason.

    A sealed event can overtake its grant (they travel on different topics), so
    with a grant follower the loop waits until the follower has read the grants
    published before it started, then a few seconds more for this event's grant.
    """
    async for event in stream.events():
        record = _incoming(event)
        if grants is not None:
            referral, needed = needed_grants(record.value, record.headers, grants.owner)
            if needed:
                await grants.caught_up()  # until then, a missing grant is just not read yet
                await grants.await_for(referral, needed)
        try:
            yield codec.decode(record)
        except RejectedRecord as rejection:
            log.warning(
                "record rejected",
                extra={"topic": record.topic, "partition": record.partition,
                       "offset": record.offset, "reason": rejection.reason},
            )
            await _send_dead_letter(app, dead_letter(record, rejection, consumer=consumer))


async def steadfast(app: faust.App, handle: Callable[[], Awaitable[None]], *, consumer: str,
                    attempts: int = 5) -> None:
    """Run an agent's handler until it completes; never let an exception leave the agent.

    An exception escaping an agent does not keep its input: Faust's stream acks the
    event on the way out, restarts the agent at the next one and commits (faust-streaming
    #604), so a handler that failed while the broker restarted lost its input without a
    trace (issue 18). Handlers are idempotent (every output id derives from the input),
    so running one again is safe. A broker error is retried for as long as it lasts; any
    other error `attempts` times, then the input is dead-lettered with the error's type.
    """
    failures, delay = 0, 0.5
    while True:
        try:
            await handle()
            return
        except KafkaError as error:
            reason = type(error).__name__
        except Exception as error:  # a bug or a record the handler cannot take
            failures += 1
            reason = type(error).__name__
            if failures >= attempts:
                log.exception("handler failed for good", extra={"reason": reason})
                await _dead_letter_current(app, RejectedRecord("handler-failed", reason),
                                           consumer=consumer)
                return
        log.warning("handler failed, retrying", extra={"reason": reason, "delay_s": delay})
        await asyncio.sleep(delay)
        delay = min(delay * 2, 10.0)


async def _dead_letter_current(app: faust.App, rejection: RejectedRecord, *,
                               consumer: str) -> None:
    event = faust.current_event()
    if event is not None:
        await _send_dead_letter(app, dead_letter(_incoming(event), rejection, consumer=consumer))


async def _send_dead_letter(app: faust.App, letter: OutgoingRecord) -> None:
    """Wait for the broker: an unacknowledged dead letter is a silent loss (issue 18)."""
    pending = await app.send(letter.topic, key=letter.key, value=letter.value,
                             headers=letter.headers)
    await pending


async def publish(app: faust.App, *records: OutgoingRecord, confirm: bool = False) -> None:
    """Send records from inside an agent, in order, through the app's producer.

    With `confirm`, return only once the broker acknowledged every record: agents that
    keep state write it after their output is safe, so a crash in between replays the
    input and re-sends the same (same-id) records instead of losing them.
    """
    pending = [await app.send(record.topic, key=record.key, value=record.wire_value,
                              headers=record.headers) for record in records]
    if confirm:
        for future in pending:
            await future


async def store(app: faust.App, table: TableT[Any, Any], key: bytes, value: bytes) -> None:
    """Write a table entry that survives a crash: changelog first, acknowledged, then memory.

    Faust's own `table[key] = value` buffers the changelog record and may commit the
    input's offset before that record reached the broker; a worker killed in between
    would come back without the change and never see the input again.
    """
    await _to_changelog(app, table, key, value)
    table.data[key] = value


async def forget(app: faust.App, table: TableT[Any, Any], key: bytes) -> None:
    """Delete a table entry for good: a tombstone in the changelog, acknowledged, then memory.

    Compaction then drops the key, so a recovering worker never reads it back.
    """
    await _to_changelog(app, table, key, None)
    table.data.pop(key, None)


async def _to_changelog(app: faust.App, table: TableT[Any, Any], key: bytes,
                        value: bytes | None) -> None:
    event = faust.current_event()
    partition = event.message.partition if event is not None else None
    pending = await app.send(table.changelog_topic.get_topic_name(), key=key, value=value,
                             partition=partition)
    await pending


def _incoming(event: faust.EventT[Any]) -> IncomingRecord:
    message = event.message
    raw = message.headers or []
    headers = list(raw.items()) if isinstance(raw, Mapping) else list(raw)
    return IncomingRecord(
        topic=message.topic, partition=message.partition, offset=message.offset,
        key=message.key, value=message.value, headers=headers,
    )
