"""Writes docs/crypto-vectors.json: fixed keys and inputs with their expected outputs.

`python -m shared.crypto.vectors` regenerates the file (the randomized parts,
HPKE encapsulation and nonces, then change, so regenerate only on a format
change and bump the version). tests/unit/crypto/test_vectors.py checks the
committed file against this code, so a partner's implementation and ours are
held to the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from shared.crypto.keys import KemAlgorithm, KemKeyPair, SigningKeyPair
from shared.crypto.public_keys import EncryptionKey
from shared.crypto.referral_keys import Grant, seal_grant
from shared.crypto.sealing import Binding, seal_views
from shared.crypto.signing import signing_input

OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "crypto-vectors.json"


def fixed(label: str, size: int) -> bytes:
    """Deterministic test key material: SHA-256 stretched over a label. Test use only."""
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"haven-test-vector|{label}|{counter}".encode()).digest()
        counter += 1
    return out[:size]


def kem_pair(algorithm: KemAlgorithm) -> KemKeyPair:
    size = 32 if algorithm is KemAlgorithm.X25519 else 96
    return KemKeyPair(algorithm, fixed(f"kem-{algorithm.value}", size))


def signing_pair() -> SigningKeyPair:
    return SigningKeyPair(fixed("ed25519", 32))


HEADERS = [("ce_id", b"11111111-2222-4333-8444-555555555555"), ("ce_source", b"/haven/intake"),
           ("ce_specversion", b"1.0"), ("ce_type", b"org.haven.referral.submitted.v1"),
           ("content-type", b"application/vnd.haven.sealed.v1")]
REFERRAL = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"


def build() -> dict[str, Any]:
    signer = signing_pair()
    record_key, value = REFERRAL.encode(), b"\x00\x01 sealed bytes \xff"
    message = signing_input(HEADERS, record_key, value)
    vectors: dict[str, Any] = {
        "version": 1,
        "signing": {
            "private_key_hex": signer.private_bytes.hex(), "key_id": signer.key_id,
            "headers": [[n, v.hex()] for n, v in HEADERS], "record_key_hex": record_key.hex(),
            "value_hex": value.hex(), "signing_input_hex": message.hex(),
            "signature_hex": signer.private_key().sign(message).hex(),
        },
        "grants": [],
    }
    referral_key = fixed("referral-key", 32)
    grant = Grant(REFERRAL, "service:matching", fixed("grant-id", 16), referral_key)
    for algorithm in KemAlgorithm:
        pair = kem_pair(algorithm)
        to = EncryptionKey("service:matching", pair.key_id, algorithm,
                           pair.private_key().public_key())
        vectors["grants"].append({
            "kem_algorithm": algorithm.value, "private_key_hex": pair.private_bytes.hex(),
            "public_key_hex": pair.public_bytes().hex(), "key_id": pair.key_id,
            "record_key": grant.record_key, "value_hex": seal_grant(grant, to).hex(),
            "referral_key_hex": referral_key.hex()})
    binding = Binding("11111111-2222-4333-8444-555555555555", "org.haven.referral.submitted.v1",
                      REFERRAL, REFERRAL)
    plaintext = b'{"example":"matching profile"}'
    vectors["view"] = {
        "event_id": binding.event_id, "event_type": binding.event_type,
        "subject": binding.subject, "referral_id": binding.referral_id,
        "view": "matching_profile", "reader": grant.recipient,
        "grant_id_hex": grant.grant_id.hex(), "referral_key_hex": referral_key.hex(),
        "sealed_hex": seal_views(binding, {"matching_profile": (plaintext, [grant])}).hex(),
        "plaintext_hex": plaintext.hex()}
    return vectors


class VectorKeys:
    """The vector keys, looked up by id the way open_grant asks a key store."""

    def __init__(self, pairs: list[KemKeyPair]) -> None:
        self._pairs = {pair.key_id: pair for pair in pairs}

    def kem_by_id(self, kem_key_id: str) -> KemKeyPair:
        return self._pairs[kem_key_id]


def main() -> None:
    OUTPUT.write_text(json.dumps(build(), indent=2) + "\n")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
