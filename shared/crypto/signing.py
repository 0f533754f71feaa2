"""Record signatures: Ed25519 over the CloudEvents headers, the record key and the value.

Only `ce_*` headers and `content-type` are signed: they are what consumers act
on, and a broker or proxy adding a tracing header must not break verification.

The signature header is text (unpadded base64url), like every other header: the
CloudEvents SDKs decode all headers as UTF-8, and a raw 64-byte value made them
fail on every Haven record. Raw signatures of records written before remain valid.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature

from shared.crypto.errors import SealError
from shared.crypto.keys import SigningKeyPair
from shared.crypto.public_keys import PublicKeys
from shared.crypto.wire import field, u32

SIGNATURE = "haven_sig"
SIGNATURE_KEY_ID = "haven_sig_kid"
SIGNATURE_HEADERS = frozenset({SIGNATURE, SIGNATURE_KEY_ID})
DOMAIN = b"haven-sig-v1"

Headers = Sequence[tuple[str, bytes]]


def signing_input(headers: Headers, key: bytes, value: bytes) -> bytes:
    """Domain, then signed headers sorted by name, then key and value; all length-prefixed."""
    signed = sorted((n, v) for n, v in headers if n.startswith("ce_") or n == "content-type")
    parts = [DOMAIN, u32(len(signed))]
    for name, raw in signed:
        parts += [field(name.encode(), 2), field(bytes(raw), 4)]
    return b"".join(parts + [field(key, 4), field(value, 4)])


def sign_record(signer: SigningKeyPair, headers: Headers, key: bytes,
                value: bytes) -> list[tuple[str, bytes]]:
    """The two headers to append: the signing key id and the signature."""
    signature = signer.private_key().sign(signing_input(headers, key, value))
    return [(SIGNATURE_KEY_ID, signer.key_id.encode()), (SIGNATURE, _as_text(signature))]


def _as_text(signature: bytes) -> bytes:
    return base64.urlsafe_b64encode(signature).rstrip(b"=")


def _signature(header: bytes) -> bytes:
    """The 64 signature bytes from the header: base64url text, or raw from older records.

    Only the canonical encoding is accepted, so no two header values carry one signature.
    """
    if len(header) == 64:
        return header
    try:
        raw = base64.urlsafe_b64decode(header + b"=" * (-len(header) % 4))
    except (binascii.Error, ValueError) as error:
        raise SealError("bad-signature", "signature is not base64url") from error
    if _as_text(raw) != header:
        raise SealError("bad-signature", "signature is not base64url")
    return raw


def verify_record(keys: PublicKeys, headers: Headers, key: bytes | None,
                  value: bytes | None) -> str:
    """The signer's owner id, or SealError; call before decrypting or acting on anything."""
    found = {name: bytes(raw) for name, raw in headers if name in (SIGNATURE, SIGNATURE_KEY_ID)}
    if len(found) != 2:
        raise SealError("bad-signature", "record is not signed")
    try:
        key_id = found[SIGNATURE_KEY_ID].decode("ascii")
    except UnicodeDecodeError as error:
        raise SealError("bad-signature", "signing key id is not ASCII") from error
    owner, public = keys.verifying_key(key_id)
    signature = _signature(found[SIGNATURE])
    try:
        public.verify(signature, signing_input(headers, key or b"", value or b""))
    except InvalidSignature as error:
        raise SealError("bad-signature", "signature does not match the record") from error
    return owner
