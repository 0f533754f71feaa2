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
from shared.offset_guard import guard, rewind_stalled
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
    """Faust's App with its consumer's commits guarded (`shared/offset_guard.py`).

    Around rebalances and restarts Faust can commit an offset past a record no handler
    finished; the guard lets a commit pass only handled records and reads a partition
    again from a record that never came (issue 18).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timer(STALL_CHECK_S)(_rewind_stalled)

    def _new_consumer(self) -> Any:
        consumer = super()._new_consumer()
        guard(consumer, acks_enabled_for=self.topics.acks_enabled_for, compacted=_COMPACTED)
        return consumer


#: How often partitions blocked by a record never handled are looked for; two looks in
#: a row find one, so a skipped record is read again within about twice this.
STALL_CHECK_S = 5.0
_COMPACTED = frozenset(spec.name for spec in CATALOG if spec.cleanup != "delete")


async def _rewind_stalled(app: faust.App) -> None:
    if app.rebalancing or not app.flow_control.is_active():
        return  # Faust seeks to the committed offsets itself when the rebalance ends
    await rewind_stalled(app.consumer, compacted=_COMPACTED)


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
