"""Views, grants and signatures: round trips, and every kind of tampering fails cleanly."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.crypto import (
    Binding,
    FileKeyStore,
    Grant,
    KemKeyPair,
    KeySet,
    MemoryKeyRing,
    PublicKeys,
    SealError,
    SigningKeyPair,
    new_grant,
    open_grant,
    open_view,
    readable_views,
    seal_grant,
    seal_views,
    sign_record,
    verify_record,
)

RECIPIENTS = ("service:matching", "service:notifier", "org:provider-a", "service:intake")
VIEWS = ("matching_profile", "offer_summary", "contact_details")


def _binding(referral: str) -> Binding:
    return Binding(event_id=str(uuid.uuid4()), event_type="org.haven.referral.submitted.v1",
                   subject=referral, referral_id=referral)


def _delivered(keystore: FileKeyStore, public_keys: PublicKeys, referral: str,
               owners: tuple[str, ...]) -> tuple[dict[str, Grant], dict[str, MemoryKeyRing]]:
    """Grants as the producer made them, and each recipient's ring after opening its grant."""
    grants, rings = {}, {}
    for owner in owners:
        grant = new_grant(referral, owner)
        sealed = seal_grant(grant, public_keys.encryption_key(owner))
        rings[owner] = MemoryKeyRing()
        rings[owner].put(open_grant(grant.record_key, sealed, keystore))
        grants[owner] = grant
    return grants, rings


@pytest.mark.parametrize("view_recipients", [
    combo for size in (1, 2, 3) for combo in itertools.combinations(RECIPIENTS, size)])
def test_every_recipient_combination(keystore: FileKeyStore, public_keys: PublicKeys,
                                     view_recipients: tuple[str, ...]) -> None:
    referral = str(uuid.uuid4())
    grants, rings = _delivered(keystore, public_keys, referral, RECIPIENTS)
    binding = _binding(referral)
    views = {name: (f"{name} body".encode(), [grants[o] for o in view_recipients])
             for name in VIEWS}
    value = seal_views(binding, views)
    for owner in RECIPIENTS:
        entitled = owner in view_recipients
        assert readable_views(value, owner) == (list(VIEWS) if entitled else [])
        for name in VIEWS:
            if entitled:
                assert open_view(value, binding, name, owner, rings[owner]) == views[name][0]
            else:
                with pytest.raises(SealError) as refused:
                    open_view(value, binding, name, owner, rings[owner])
                assert refused.value.reason == "not-a-recipient"


def test_wrong_key_swapped_view_and_replay_fail(keystore: FileKeyStore,
                                                public_keys: PublicKeys) -> None:
    referral = str(uuid.uuid4())
    grants, rings = _delivered(keystore, public_keys, referral, ("service:matching",))
    binding = _binding(referral)
    value = seal_views(binding, {"a": (b"alpha", [grants["service:matching"]]),
                                 "b": (b"bravo", [grants["service:matching"]])})
    wrong_ring = MemoryKeyRing()
    wrong_ring.put(Grant(referral, "service:matching", grants["service:matching"].grant_id,
                         b"\x00" * 32))
    reasons = set()
    for attempt in (
        lambda: open_view(value, binding, "a", "service:matching", wrong_ring),
        lambda: open_view(value.replace(b"\x01a", b"\x01c", 1), binding, "c",
                          "service:matching", rings["service:matching"]),
        lambda: open_view(value.replace(b"\x01a", b"\x01b", 1), binding, "b",
                          "service:matching", rings["service:matching"]),
        lambda: open_view(value, _binding(referral), "a", "service:matching",
                          rings["service:matching"]),
    ):
        with pytest.raises(SealError) as caught:
            attempt()
        reasons.add(caught.value.reason)
    assert reasons <= {"tampered", "malformed"}


def test_grant_opens_only_for_its_recipient(keystore: FileKeyStore,
                                            public_keys: PublicKeys) -> None:
    grant = new_grant("r1", "org:provider-a")
    sealed = seal_grant(grant, public_keys.encryption_key("org:provider-a"))
    assert open_grant(grant.record_key, sealed, keystore).key == grant.key
    moved = f"r2/org:provider-a/{grant.grant_id.hex()}"
    with pytest.raises(SealError):
        open_grant(moved, sealed, keystore)
    with pytest.raises(SealError):
        seal_grant(grant, public_keys.encryption_key("org:provider-b"))


def test_erased_referral_cannot_be_opened_even_with_every_private_key(
    keystore: FileKeyStore, public_keys: PublicKeys
) -> None:
    referral = str(uuid.uuid4())
    grants, rings = _delivered(keystore, public_keys, referral, ("service:matching",))
    binding = _binding(referral)
    value = seal_views(binding, {"p": (b"profile", [grants["service:matching"]])})
    assert rings["service:matching"].erase(referral)
    with pytest.raises(SealError) as caught:
        open_view(value, binding, "p", "service:matching", rings["service:matching"])
    assert caught.value.reason == "erased"


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=3000),
       owners=st.lists(st.sampled_from(RECIPIENTS), min_size=1, max_size=4, unique=True),
       data=st.data())
def test_any_flip_or_truncation_is_a_seal_error(
    keystore: FileKeyStore, public_keys: PublicKeys, payload: bytes, owners: list[str],
    data: st.DataObject,
) -> None:
    referral = str(uuid.uuid4())
    grants, rings = _delivered(keystore, public_keys, referral, tuple(owners))
    binding = _binding(referral)
    value = seal_views(binding, {"v": (payload, [grants[o] for o in owners])})
    reader = owners[0]
    assert open_view(value, binding, "v", reader, rings[reader]) == payload
    position = data.draw(st.integers(0, len(value) - 1))
    flipped = value[:position] + bytes([value[position] ^ data.draw(st.integers(1, 255))]) + \
        value[position + 1:]
    cut = value[:data.draw(st.integers(0, len(value) - 1))]
    for broken in (flipped, cut):
        try:
            opened = open_view(broken, binding, "v", reader, rings[reader])
        except SealError:
            continue
        # A flip in another recipient's entry leaves this reader's view intact.
        assert opened == payload and broken is flipped


def test_signature_covers_headers_key_and_value(keystore: FileKeyStore,
                                                public_keys: PublicKeys) -> None:
    signer = keystore.active("service:matching").signing
    headers = [("ce_id", b"e1"), ("ce_type", b"t"), ("content-type", b"x")]
    signed = headers + sign_record(signer, headers, b"key", b"value")
    assert verify_record(public_keys, signed, b"key", b"value") == "service:matching"
    tampered = [
        (signed, b"key", b"valuE"), (signed, b"kex", b"value"),
        ([(n, b"e2" if n == "ce_id" else v) for n, v in signed], b"key", b"value"),
        ([(n, v) for n, v in signed if n != "haven_sig"], b"key", b"value"),
        ([(n, b"0" * 32 if n == "haven_sig_kid" else v) for n, v in signed], b"key", b"value"),
    ]
    for record_headers, key, value in tampered:
        with pytest.raises(SealError):
            verify_record(public_keys, record_headers, key, value)
    assert verify_record(public_keys, signed + [("traceparent", b"x")], b"key", b"value")


@settings(max_examples=100)
@given(position=st.integers(0, 200), mask=st.integers(1, 255))
def test_any_flipped_signature_bit_fails(position: int, mask: int) -> None:
    signer = SigningKeyPair.generate()
    keys = PublicKeys()
    keys.add(KeySet("org:x", KemKeyPair.generate(), signer, datetime.now(UTC)).public_record())
    headers = [("ce_id", b"1")]
    signed = headers + sign_record(signer, headers, b"k", b"v")
    signature = dict(signed)["haven_sig"]
    index = position % len(signature)
    bad = signature[:index] + bytes([signature[index] ^ mask]) + signature[index + 1:]
    with pytest.raises(SealError):
        verify_record(keys, [(n, bad if n == "haven_sig" else v) for n, v in signed], b"k", b"v")
