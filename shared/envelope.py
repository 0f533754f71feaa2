"""CloudEvents 1.0 attributes carried as Kafka headers (the Kafka protocol binding, binary mode).

Headers carry only opaque ids and type names, never personal data; the payload is
the record value, whose media type is named by `content-type`.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

SPEC_VERSION = "1.0"
JSON_CONTENT_TYPE = "application/json"

Headers = Sequence[tuple[str, bytes]]

_REQUIRED = ("id", "source", "specversion", "type")
_ATTRIBUTES = ("specversion", "id", "source", "type", "subject", "time", "traceparent",
               "tracestate")
ATTRIBUTE_HEADERS = frozenset({f"ce_{name}" for name in _ATTRIBUTES} | {"content-type"})


class EnvelopeError(ValueError):
    """A record whose headers do not form a valid CloudEvent; `reason` is a short code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def new_traceparent() -> str:
    """A W3C trace context for an event that starts a new trace (e.g. an HTTP submission)."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_traceparent(parent: str | None) -> str:
    """Same trace, new span: consumers that publish in reaction keep the causal chain visible."""
    if parent is None or len(parent.split("-")) != 4:
        return new_traceparent()
    version, trace_id, _span, flags = parent.split("-")
    return f"{version}-{trace_id}-{secrets.token_hex(8)}-{flags}"


@dataclass(frozen=True)
class CloudEvent:
    """The context attributes of one event; the data travels separately as the record value."""

    type: str
    source: str
    subject: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    specversion: str = SPEC_VERSION
    datacontenttype: str = JSON_CONTENT_TYPE
    traceparent: str = field(default_factory=new_traceparent)
    tracestate: str | None = None

    def to_headers(self) -> list[tuple[str, bytes]]:
        """Binary-mode headers: `ce_<attribute>` plus `content-type` for the value."""
        pairs = [
            ("ce_specversion", self.specversion),
            ("ce_id", self.id),
            ("ce_source", self.source),
            ("ce_type", self.type),
            ("ce_subject", self.subject),
            ("ce_time", self.time.isoformat()),
            ("ce_traceparent", self.traceparent),
            ("content-type", self.datacontenttype),
        ]
        if self.tracestate:
            pairs.append(("ce_tracestate", self.tracestate))
        return [(name, value.encode()) for name, value in pairs]

    @classmethod
    def from_headers(cls, headers: Headers | None) -> CloudEvent:
        """Parse and check the attributes; raise EnvelopeError naming what is wrong."""
        values = _decode_headers(headers or ())
        missing = [name for name in _REQUIRED if not values.get(f"ce_{name}")]
        if missing:
            raise EnvelopeError("missing-attribute", f"missing ce_{', ce_'.join(missing)}")
        if values["ce_specversion"] != SPEC_VERSION:
            raise EnvelopeError("unsupported-specversion", values["ce_specversion"][:20])
        return cls(
            type=values["ce_type"],
            source=values["ce_source"],
            subject=values.get("ce_subject", ""),
            id=values["ce_id"],
            time=_parse_time(values.get("ce_time")),
            datacontenttype=values.get("content-type", JSON_CONTENT_TYPE),
            traceparent=values.get("ce_traceparent") or new_traceparent(),
            tracestate=values.get("ce_tracestate"),
        )


def unique_headers(headers: Headers, *, known: frozenset[str]) -> dict[str, bytes]:
    """The headers by name, or EnvelopeError if a name repeats or is not one we know.

    Two values for one attribute are two answers to one question: a signer and a
    reader that each pick one could act on different events, so neither picks.
    An unknown name is refused by its position only (names can be typed data too).
    """
    found: dict[str, bytes] = {}
    for position, (name, raw) in enumerate(headers, start=1):
        if name not in known:
            raise EnvelopeError("unknown-header",
                                f"header {position} is not part of the envelope")
        if name in found:
            raise EnvelopeError("duplicate-header", f"{name} appears more than once")
        found[name] = bytes(raw or b"")
    return found


def _decode_headers(headers: Headers) -> dict[str, str]:
    """The attribute headers as text; other headers are the caller's to check."""
    attributes = [(name, raw) for name, raw in headers if name in ATTRIBUTE_HEADERS]
    values: dict[str, str] = {}
    for name, raw in unique_headers(attributes, known=ATTRIBUTE_HEADERS).items():
        try:
            values[name] = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise EnvelopeError("malformed-header", f"{name} is not UTF-8") from error
    return values


def _parse_time(raw: str | None) -> datetime:
    if not raw:
        raise EnvelopeError("missing-attribute", "missing ce_time")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError as error:
        raise EnvelopeError("malformed-header", "ce_time is not an RFC 3339 timestamp") from error
    if parsed.tzinfo is None:
        raise EnvelopeError("malformed-header", "ce_time has no time zone")
    return parsed
