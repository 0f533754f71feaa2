"""A record's attributes are read once: repeated or unknown headers never reach a decision.

The attack this closes: a service signs a record whose first `ce_type` is one it may
produce and whose last is another service's type. The producer check read the first,
the decoder kept the last, so a notifier could announce capacity (a forged 4,242
places was accepted by matching). Now any repeated attribute or unknown header is
refused before the signature, the producer or the payload are looked at.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.crypto import FileKeyStore, MemoryKeyRing, PublicKeys, sign_record
from shared.envelope import CloudEvent
from shared.events import CapacityUpdated
from shared.protection import protected_codec
from shared.recipients import MATCHING, PRODUCED_TYPES, SERVICES, producer_of
from shared.records import IncomingRecord, RecordCodec, RejectedRecord

TYPES = sorted(PRODUCED_TYPES)
EXTRA_NAMES = ("traceparent", "ce_dataschema", "x-forwarded", "Ce_Type", "ce_type ")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[FileKeyStore, PublicKeys]:
    store = FileKeyStore(tmp_path_factory.mktemp("keys") / "store")
    for owner in SERVICES:
        store.rotate(owner)
    return store, PublicKeys(store.active(o).public_record() for o in SERVICES)


def _reader(world: tuple[FileKeyStore, PublicKeys]) -> RecordCodec:
    codec, _ = protected_codec(source="/test/matching", owner=MATCHING, keys=world[0],
                               public_keys=world[1], ring=MemoryKeyRing())
    return codec


def _forgery(world: tuple[FileKeyStore, PublicKeys], headers: list[tuple[str, bytes]],
             signer: str, value: bytes) -> IncomingRecord:
    """Signed, validly, by `signer` over exactly these headers (the signature sorts them)."""
    signature = sign_record(world[0].active(signer).signing, headers, b"svc", value)
    return IncomingRecord("capacity.updates", 0, 0, b"svc", value, [*headers, *signature])


def _capacity() -> tuple[CapacityUpdated, bytes]:
    event = CapacityUpdated(service_id=uuid.uuid4(), available=4242, maximum=4242,
                            confirmed_at=datetime.now(UTC))
    return event, event.model_dump_json().encode()


wrong_signings = st.sampled_from(TYPES).flatmap(lambda target: st.tuples(
    st.just(target),
    st.sampled_from([s for s in SERVICES if s != producer_of(target)]),
))


@settings(max_examples=150, deadline=None)
@given(forgery=wrong_signings, data=st.data())
def test_a_second_type_header_never_passes_for_any_type_and_wrong_producer(
        world: tuple[FileKeyStore, PublicKeys], forgery: tuple[str, str],
        data: st.DataObject) -> None:
    target, signer = forgery
    decoys = [t for t in TYPES if producer_of(t) == signer]
    decoy = data.draw(st.sampled_from(decoys), label="a type the signer may send")
    event, value = _capacity()
    headers = CloudEvent(type=decoy, source="/forger", subject=str(event.service_id)
                         ).to_headers()
    at = data.draw(st.integers(0, len(headers)), label="where the second type goes")
    headers.insert(at, ("ce_type", target.encode()))
    extras = data.draw(st.lists(st.sampled_from(EXTRA_NAMES), max_size=2), label="extras")
    headers += [(name, b"x") for name in extras]
    headers = data.draw(st.permutations(headers), label="order")
    with pytest.raises(RejectedRecord) as refused:
        _reader(world).decode(_forgery(world, headers, signer, value))
    expected = {"duplicate-header", "unknown-header"} if extras else {"duplicate-header"}
    assert refused.value.reason in expected


@settings(max_examples=60, deadline=None)
@given(attribute=st.sampled_from(["ce_id", "ce_source", "ce_specversion", "ce_subject",
                                  "ce_time", "ce_traceparent", "content-type"]),
       data=st.data())
def test_any_repeated_attribute_is_refused_even_from_the_right_producer(
        world: tuple[FileKeyStore, PublicKeys], attribute: str, data: st.DataObject) -> None:
    event, value = _capacity()
    headers = CloudEvent(type=event.event_type, source="/intake",
                         subject=str(event.service_id)).to_headers()
    original = dict(headers)[attribute]
    headers.append((attribute, data.draw(st.sampled_from([original, b"other"]))))
    headers = data.draw(st.permutations(headers))
    with pytest.raises(RejectedRecord) as refused:
        _reader(world).decode(_forgery(world, headers, "service:intake", value))
    assert refused.value.reason == "duplicate-header"


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_the_right_producer_in_any_header_order_is_accepted(
        world: tuple[FileKeyStore, PublicKeys], data: st.DataObject) -> None:
    event, value = _capacity()
    headers = CloudEvent(type=event.event_type, source="/intake",
                         subject=str(event.service_id)).to_headers()
    record = _forgery(world, data.draw(st.permutations(headers)), "service:intake", value)
    assert _reader(world).decode(record).event == event


def test_an_unknown_header_is_refused_without_echoing_its_name(
        world: tuple[FileKeyStore, PublicKeys]) -> None:
    event, value = _capacity()
    headers = [*CloudEvent(type=event.event_type, source="/intake",
                           subject=str(event.service_id)).to_headers(),
               ("CANARY-NAME-Zyx", b"1")]
    with pytest.raises(RejectedRecord) as refused:
        _reader(world).decode(_forgery(world, headers, "service:intake", value))
    assert refused.value.reason == "unknown-header"
    assert "CANARY" not in str(refused.value)


def test_a_valid_signature_by_another_service_is_still_the_wrong_producer(
        world: tuple[FileKeyStore, PublicKeys]) -> None:
    event, value = _capacity()
    headers = CloudEvent(type=event.event_type, source="/notifier",
                         subject=str(event.service_id)).to_headers()
    with pytest.raises(RejectedRecord) as refused:
        _reader(world).decode(_forgery(world, headers, "service:notifier", value))
    assert refused.value.reason == "wrong-producer"
