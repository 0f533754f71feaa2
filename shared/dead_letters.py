"""The dead-letter convention: what a consumer does with a record it must not act on.

The record goes, byte for byte, to `<topic>.dlq` with headers that say where it
came from and why it was refused; the consumer then moves on. Reasons are codes
and field paths, never payload values, so the dead-letter topic leaks nothing
that the source topic did not already hold.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.records import IncomingRecord, OutgoingRecord, RejectedRecord
from shared.topics import dead_letter_name

ORIGINAL_TOPIC = "haven_dlq_topic"
ORIGINAL_PARTITION = "haven_dlq_partition"
ORIGINAL_OFFSET = "haven_dlq_offset"
REASON = "haven_dlq_reason"
DETAIL = "haven_dlq_detail"
CONSUMER = "haven_dlq_consumer"
REJECTED_AT = "haven_dlq_at"

DLQ_HEADERS = frozenset(
    {ORIGINAL_TOPIC, ORIGINAL_PARTITION, ORIGINAL_OFFSET, REASON, DETAIL, CONSUMER, REJECTED_AT}
)


def dead_letter(
    record: IncomingRecord, rejection: RejectedRecord, *, consumer: str
) -> OutgoingRecord:
    """The record to publish for a refused input: the original bytes plus the why."""
    original = [(name, value) for name, value in record.headers if name not in DLQ_HEADERS]
    why = [
        (ORIGINAL_TOPIC, record.topic),
        (ORIGINAL_PARTITION, str(record.partition)),
        (ORIGINAL_OFFSET, str(record.offset)),
        (REASON, rejection.reason),
        (DETAIL, rejection.detail),
        (CONSUMER, consumer),
        (REJECTED_AT, datetime.now(UTC).isoformat()),
    ]
    return OutgoingRecord(
        topic=dead_letter_name(record.topic),
        key=record.key or b"",
        value=record.value or b"",
        headers=original + [(name, value.encode()) for name, value in why],
    )


def reason_of(headers: list[tuple[str, bytes]]) -> dict[str, str]:
    """The dead-letter headers of a record, decoded, for admins' tools and tests."""
    return {name: value.decode() for name, value in headers if name in DLQ_HEADERS}
