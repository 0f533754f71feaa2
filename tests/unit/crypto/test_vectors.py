"""The committed test vectors (docs/crypto-vectors.json) still hold for this code."""

from __future__ import annotations

import json

from shared.crypto import KemAlgorithm, KemKeyPair, MemoryKeyRing, SigningKeyPair
from shared.crypto.referral_keys import Grant, open_grant
from shared.crypto.sealing import Binding, open_view
from shared.crypto.signing import signing_input
from shared.crypto.vectors import OUTPUT, VectorKeys

VECTORS = json.loads(OUTPUT.read_text())


def test_signature_vector() -> None:
    vector = VECTORS["signing"]
    signer = SigningKeyPair(bytes.fromhex(vector["private_key_hex"]))
    assert signer.key_id == vector["key_id"]
    headers = [(name, bytes.fromhex(value)) for name, value in vector["headers"]]
    message = signing_input(headers, bytes.fromhex(vector["record_key_hex"]),
                            bytes.fromhex(vector["value_hex"]))
    assert message.hex() == vector["signing_input_hex"]
    assert signer.private_key().sign(message).hex() == vector["signature_hex"]


def test_grant_vectors_open_with_their_private_keys() -> None:
    assert {g["kem_algorithm"] for g in VECTORS["grants"]} == {a.value for a in KemAlgorithm}
    for vector in VECTORS["grants"]:
        pair = KemKeyPair(KemAlgorithm(vector["kem_algorithm"]),
                          bytes.fromhex(vector["private_key_hex"]))
        assert pair.public_bytes().hex() == vector["public_key_hex"]
        assert pair.key_id == vector["key_id"]
        grant = open_grant(vector["record_key"], bytes.fromhex(vector["value_hex"]),
                           VectorKeys([pair]))
        assert grant.key.hex() == vector["referral_key_hex"]


def test_view_vector_opens_to_its_plaintext() -> None:
    vector = VECTORS["view"]
    ring = MemoryKeyRing()
    ring.put(Grant(vector["referral_id"], vector["reader"], bytes.fromhex(vector["grant_id_hex"]),
                   bytes.fromhex(vector["referral_key_hex"])))
    binding = Binding(vector["event_id"], vector["event_type"], vector["subject"],
                      vector["referral_id"])
    opened = open_view(bytes.fromhex(vector["sealed_hex"]), binding, vector["view"],
                       vector["reader"], ring)
    assert opened.hex() == vector["plaintext_hex"]
