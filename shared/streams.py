"""Faust at the edges: the one app factory the workers use, and the decode-or-dead-letter loop.

Agents stay about five lines: `async for envelope in verified(stream, ...)` hands
them only events that passed the codec; everything else is already on its
dead-letter topic with a reason, and the stream goes on.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import faust
from faust.types import TableT

from shared.dead_letters import dead_letter
from shared.grant_follower import GrantFollower
from shared.partitioning import referral_partitioner
from shared.protection import needed_grants
from shared.records import Envelope, IncomingRecord, OutgoingRecord, RecordCodec, RejectedRecord
from shared.settings import KafkaSettings, RuntimeSettings
from shared.topics import TopicSpec

log = logging.getLogger("haven.streams")


def create_faust_app(
    service: str, *, kafka: KafkaSettings, runtime: RuntimeSettings, web_port: int | None,
    app_id: str | None = None,
) -> faust.App:
    """A worker app wired to our broker, our serializers and our topic policy.

    `app_id` is the consumer group and prefixes table changelogs (tests run isolated
    groups side by side on one broker).
    """
    datadir = runtime.var_dir / "faust" / service
    datadir.mkdir(parents=True, exist_ok=True)
    return faust.App(
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
        # A killed worker's partitions move to a live one within seconds, not a minute.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
    )


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
            letter = dead_letter(record, rejection, consumer=consumer)
            await app.send(letter.topic, key=letter.key, value=letter.value,
                           headers=letter.headers)


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
