"""CloudEvents attributes <-> Kafka headers, without a broker."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.envelope import CloudEvent, EnvelopeError, child_traceparent

ids = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1,
              max_size=60)


@given(type_=ids, source=ids, subject=ids, when=st.datetimes(timezones=st.just(UTC)))
def test_headers_round_trip(type_: str, source: str, subject: str, when: datetime) -> None:
    event = CloudEvent(type=type_, source=source, subject=subject, time=when,
                       tracestate="vendor=1")
    assert CloudEvent.from_headers(event.to_headers()) == event


def test_binary_mode_header_names() -> None:
    names = {name for name, _ in CloudEvent(type="t", source="s", subject="x").to_headers()}
    assert {"ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_subject",
            "ce_traceparent", "content-type"} <= names


@pytest.mark.parametrize("dropped", ["ce_id", "ce_source", "ce_type", "ce_specversion"])
def test_missing_required_attribute_is_named(dropped: str) -> None:
    headers = [h for h in CloudEvent(type="t", source="s", subject="x").to_headers()
               if h[0] != dropped]
    with pytest.raises(EnvelopeError) as caught:
        CloudEvent.from_headers(headers)
    assert caught.value.reason == "missing-attribute"
    assert dropped in caught.value.detail


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [("ce_specversion", b"0.3", "unsupported-specversion"),
     ("ce_time", b"yesterday", "malformed-header"),
     ("ce_time", b"2026-01-01T00:00:00", "malformed-header"),
     ("ce_type", b"\xff\xfe", "malformed-header")],
)
def test_bad_attribute_values(name: str, value: bytes, reason: str) -> None:
    headers = [(k, value if k == name else v)
               for k, v in CloudEvent(type="t", source="s", subject="x").to_headers()]
    with pytest.raises(EnvelopeError) as caught:
        CloudEvent.from_headers(headers)
    assert caught.value.reason == reason


def test_child_trace_keeps_trace_id_and_changes_span() -> None:
    parent = CloudEvent(type="t", source="s", subject="x").traceparent
    child = child_traceparent(parent)
    assert child.split("-")[1] == parent.split("-")[1]
    assert child.split("-")[2] != parent.split("-")[2]
    assert len(child_traceparent("garbage").split("-")) == 4
