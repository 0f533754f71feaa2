"""Events <-> Kafka records: the one codec every producer and consumer goes through.

`encode` turns an event into key, value and CloudEvents headers; `decode` does the
reverse and raises `RejectedRecord` with a short reason code for anything it cannot
trust, so every consumer can dead-letter it the same way and move on.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from pydantic import ValidationError

from shared.envelope import (
    ATTRIBUTE_HEADERS,
    JSON_CONTENT_TYPE,
    CloudEvent,
    EnvelopeError,
    Headers,
    child_traceparent,
    unique_headers,
)
from shared.events import Event, resolve

MAX_DETAIL = 500
REACTION_NAMESPACE = uuid.UUID("6f1d8a52-2b7e-4c36-9a51-7e0f1c2d3b4a")


class RejectedRecord(Exception):
    """A record a consumer must not act on. `reason` is a code; `detail` holds no payload data."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail[:MAX_DETAIL]


@dataclass(frozen=True)
class OutgoingRecord:
    """A record to publish; `tombstone` sends a null value (deletes the key when compacted)."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    tombstone: bool = False

    @property
    def wire_value(self) -> bytes | None:
        return None if self.tombstone else self.value


@dataclass(frozen=True)
class EncodedPayload:
    """A body's bytes and the key grant records its readers need before they can open it.

    Returned by the call that made them and never kept anywhere else: a process that
    encodes on several threads at once must not hand one call's grants to another.
    """

    value: bytes
    grants: tuple[OutgoingRecord, ...] = ()


@dataclass(frozen=True)
class IncomingRecord:
    """A consumed record, as any client library hands it to us."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class Envelope:
    """A decoded, validated event with the attributes it travelled with."""

    attributes: CloudEvent
    event: Event


class PayloadCodec(Protocol):
    """How an event body becomes bytes; the sealing codec implements the same calls."""

    content_type: str

    def encode(self, body: dict[str, Any], attributes: CloudEvent) -> EncodedPayload: ...

    def decode(self, value: bytes, attributes: CloudEvent) -> dict[str, Any]: ...

    def published(self, records: Sequence[OutgoingRecord]) -> None:
        """The broker acknowledged these records: grants among them need not be sent again."""


class JsonPayload:
    """Plain JSON bodies: for events with no personal data, and for tests of the envelope."""

    content_type = JSON_CONTENT_TYPE

    def encode(self, body: dict[str, Any], attributes: CloudEvent) -> EncodedPayload:
        return EncodedPayload(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())

    def published(self, records: Sequence[OutgoingRecord]) -> None:
        """Plain bodies need no grants."""

    def decode(self, value: bytes, attributes: CloudEvent) -> dict[str, Any]:
        try:
            body = json.loads(value)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RejectedRecord("malformed-payload", "value is not JSON") from error
        if not isinstance(body, dict):
            raise RejectedRecord("malformed-payload", "value is not a JSON object")
        return body


class Signer(Protocol):
    """Appends signature headers to a finished record (shared.crypto's Ed25519 signer)."""

    def __call__(self, headers: Headers, key: bytes, value: bytes) -> list[tuple[str, bytes]]: ...


class Verifier(Protocol):
    """Checks a record's signature and that its signer may send this event; raises with a
    `reason`. It is handed the attributes the codec parsed, never the raw headers to re-read.
    """

    def __call__(self, attributes: CloudEvent, headers: Headers, key: bytes | None,
                 value: bytes | None) -> str: ...


class RecordCodec:
    """Encodes and decodes records for one producer identity (`source`).

    `payloads` are tried by content type on the way in; the first one writes,
    except that event types the sealing policy does not cover use plain JSON.
    With a `signer`, every record leaves signed; with a `verifier`, nothing
    unsigned or wrongly signed gets past `decode`. `signature_headers` are the
    header names the signer adds: with the CloudEvents ones, the only names
    `decode` lets through.
    """

    def __init__(self, *, source: str, payloads: Sequence[PayloadCodec] = (JsonPayload(),),
                 signer: Signer | None = None, verifier: Verifier | None = None,
                 writer_for: Callable[[str], PayloadCodec] | None = None,
                 signature_headers: frozenset[str] = frozenset()) -> None:
        self.source = source
        self._known_headers = ATTRIBUTE_HEADERS | signature_headers
        self._writer_for = writer_for or (lambda _event_type: payloads[0])
        self._readers = {codec.content_type: codec for codec in payloads}
        self._signer = signer
        self._verifier = verifier

    def attributes_for(
        self, event: Event, *, cause: CloudEvent | None = None, discriminator: str = ""
    ) -> CloudEvent:
        """The event's attributes; `cause` (the event reacted to) continues its trace.

        A reaction's id is derived from its cause, so a consumer that handles the
        same input twice (at-least-once delivery) emits the same event id twice,
        and everyone downstream drops the repeat. `discriminator` tells apart
        several events of one type that one cause legitimately produces.
        """
        attributes = CloudEvent(
            type=event.event_type,
            source=self.source,
            subject=event.subject(),
            datacontenttype=self._writer_for(event.event_type).content_type,
            traceparent=child_traceparent(cause.traceparent if cause else None),
        )
        if cause is not None:
            name = f"{cause.id}|{event.event_type}|{event.subject()}|{discriminator}"
            attributes = replace(attributes, id=str(uuid.uuid5(REACTION_NAMESPACE, name)))
        return attributes

    def encode(
        self, event: Event, *, cause: CloudEvent | None = None, discriminator: str = ""
    ) -> OutgoingRecord:
        """The event's record alone, for events that need no key grant (plain ones)."""
        return _alone(self.encode_all(event, cause=cause, discriminator=discriminator))

    def encode_all(
        self, event: Event, *, cause: CloudEvent | None = None, discriminator: str = ""
    ) -> list[OutgoingRecord]:
        """The records to publish, in order: any key grants its readers need, then the event."""
        return self.encode_all_with(event, self.attributes_for(event, cause=cause,
                                                               discriminator=discriminator))

    def encode_with(self, event: Event, attributes: CloudEvent) -> OutgoingRecord:
        """A record with attributes chosen by the caller (re-publishing, outbox replay)."""
        return _alone(self.encode_all_with(event, attributes))

    def encode_all_with(self, event: Event, attributes: CloudEvent) -> list[OutgoingRecord]:
        """Grants then the event, with attributes chosen by the caller; all signed."""
        encoded = self._writer_for(event.event_type).encode(event.model_dump(mode="json"),
                                                            attributes)
        record = OutgoingRecord(topic=event.destination().name, key=event.key().encode(),
                                value=encoded.value, headers=attributes.to_headers())
        return [self.signed(grant) for grant in encoded.grants] + [self.signed(record)]

    def published(self, records: Sequence[OutgoingRecord]) -> None:
        """Call once the broker acknowledged `records`, so reused grants are not re-sent."""
        for writer in self._readers.values():
            writer.published(records)

    def signed(self, record: OutgoingRecord) -> OutgoingRecord:
        """The record with signature headers, when this codec signs."""
        if self._signer is None:
            return record
        extra = self._signer(record.headers, record.key, record.value)
        return replace(record, headers=[*record.headers, *extra])

    def decode(self, record: IncomingRecord) -> Envelope:
        """Check the headers, verify, then validate type and body; else RejectedRecord saying why.

        The headers are parsed once, into the attributes everything after reads: a
        repeated or unknown header is refused before any of it.
        """
        try:
            unique_headers(record.headers, known=self._known_headers)
            attributes = CloudEvent.from_headers(record.headers)
        except EnvelopeError as error:
            raise RejectedRecord(error.reason, error.detail) from error
        if self._verifier is not None:
            try:
                self._verifier(attributes, record.headers, record.key, record.value)
            except Exception as error:  # SealError from shared.crypto, with a reason code
                raise RejectedRecord(getattr(error, "reason", "bad-signature"),
                                     getattr(error, "detail", "")) from error
        if record.value is None:
            raise RejectedRecord("missing-payload", "record has no value")
        reader = self._readers.get(attributes.datacontenttype)
        if reader is None:
            raise RejectedRecord("unsupported-content-type", attributes.datacontenttype[:80])
        body = reader.decode(record.value, attributes)
        return Envelope(attributes, _validate(attributes, body))


def _alone(records: list[OutgoingRecord]) -> OutgoingRecord:
    """The single record of a plain event; a sealed event's grants are never dropped silently."""
    *grants, record = records
    if grants:
        raise ValueError("this event needs key grants published first: use encode_all")
    return record


def _validate(attributes: CloudEvent, body: dict[str, Any]) -> Event:
    try:
        event_class, body = resolve(attributes.type, body)
    except KeyError as error:
        raise RejectedRecord("unknown-type", attributes.type[:120]) from error
    try:
        event = event_class.model_validate(body)
    except ValidationError as error:
        raise RejectedRecord("invalid-payload", describe_validation_error(error)) from error
    if event.subject() != attributes.subject:
        raise RejectedRecord("subject-mismatch", "ce_subject differs from the payload's id")
    return event


def describe_validation_error(error: ValidationError) -> str:
    """Field paths and error kinds only: the rejected values may be personal data."""
    problems = (
        f"{'.'.join(str(part) for part in item['loc']) or '(body)'}: {item['type']}"
        for item in error.errors(include_input=False, include_url=False, include_context=False)
    )
    return "; ".join(problems)
