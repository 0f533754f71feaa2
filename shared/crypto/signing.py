"""Record signatures: Ed25519 over the CloudEvents headers, the record key and the value.

Only `ce_*` headers and `content-type` are signed: they are what consumers act
on, and a broker or proxy adding a tracing header must not break verification.
"""

from __future__ import annotations

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
    return [(SIGNATURE_KEY_ID, signer.key_id.encode()), (SIGNATURE, signature)]


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
    try:
        public.verify(found[SIGNATURE], signing_input(headers, key or b"", value or b""))
    except InvalidSignature as error:
        raise SealError("bad-signature", "signature does not match the record") from error
    return owner
