"""The signature header is ASCII text (CloudEvents tools decode every header as UTF-8);
raw signatures of records written before still verify, non-canonical text does not."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from shared.crypto import KemKeyPair, KeySet, PublicKeys, SealError, SigningKeyPair
from shared.crypto.signing import SIGNATURE, sign_record, signing_input, verify_record


def _world() -> tuple[SigningKeyPair, PublicKeys]:
    signer = SigningKeyPair.generate()
    keys = PublicKeys()
    keys.add(KeySet("org:x", KemKeyPair.generate(), signer, datetime.now(UTC)).public_record())
    return signer, keys


def test_the_signature_header_is_text() -> None:
    signer, keys = _world()
    headers = [("ce_id", b"1")]
    signed = dict(sign_record(signer, headers, b"k", b"v"))
    assert signed[SIGNATURE].decode("ascii").isascii() and len(signed[SIGNATURE]) == 86
    assert verify_record(keys, headers + list(signed.items()), b"k", b"v") == "org:x"


def test_a_raw_signature_from_an_older_record_still_verifies() -> None:
    signer, keys = _world()
    headers = [("ce_id", b"1")]
    kid, _ = sign_record(signer, headers, b"k", b"v")
    raw = signer.private_key().sign(signing_input(headers, b"k", b"v"))
    assert verify_record(keys, headers + [kid, (SIGNATURE, raw)], b"k", b"v") == "org:x"


def test_a_non_canonical_encoding_is_refused() -> None:
    signer, keys = _world()
    headers = [("ce_id", b"1")]
    kid, (_, text) = sign_record(signer, headers, b"k", b"v")
    padded = base64.urlsafe_b64encode(base64.urlsafe_b64decode(text + b"=="))
    for variant in (padded, text[:-1] + (b"B" if text[-1:] == b"A" else b"A"), b"!" * 86):
        with pytest.raises(SealError):
            verify_record(keys, headers + [kid, (SIGNATURE, variant)], b"k", b"v")
