"""Per-referral keys: what makes erasure real.

For each referral and each recipient there is a random 32-byte *referral key*.
It travels only on the compacted `referral.keys` topic, HPKE-sealed to the
recipient's public key (a *grant*, record key `<referral>/<recipient>/<grant id>`).
Data topics carry view keys wrapped under referral keys, never a key that opens
anything by itself. Erasing a referral tombstones its grants and every service
drops its cached referral keys: after compaction, nobody, not even a holder of
every private key, can open that referral's views again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

from shared.crypto.errors import SealError
from shared.crypto.keys import KemKeyPair
from shared.crypto.public_keys import EncryptionKey
from shared.crypto.wire import Reader, field

GRANT_VERSION = 1
GRANT_ID_BYTES = 16
REFERRAL_KEY_BYTES = 32


@dataclass(frozen=True)
class Grant:
    """A referral key as its recipient holds it."""

    referral_id: str
    recipient: str
    grant_id: bytes
    key: bytes

    @property
    def record_key(self) -> str:
        return grant_record_key(self.referral_id, self.recipient, self.grant_id)


def grant_record_key(referral_id: str, recipient: str, grant_id: bytes) -> str:
    return f"{referral_id}/{recipient}/{grant_id.hex()}"


def _info(referral_id: str, recipient: str, grant_id: bytes) -> bytes:
    return (b"haven-grant-v1" + field(referral_id.encode()) + field(recipient.encode())
            + field(grant_id))


def new_grant(referral_id: str, recipient: str) -> Grant:
    """A fresh referral key for one recipient."""
    return Grant(referral_id, recipient, os.urandom(GRANT_ID_BYTES),
                 os.urandom(REFERRAL_KEY_BYTES))


def seal_grant(grant: Grant, to: EncryptionKey) -> bytes:
    """The `referral.keys` value: version, recipient key id, HPKE ciphertext (enc || ct)."""
    if to.owner != grant.recipient:
        raise SealError("not-a-recipient", "grant sealed to another owner's key")
    sealed = to.algorithm.suite().encrypt(
        grant.key, to.public, _info(grant.referral_id, grant.recipient, grant.grant_id))
    return bytes([GRANT_VERSION]) + field(to.key_id.encode(), 1) + sealed


class KemKeyLookup(Protocol):
    """The one thing opening a grant needs from a key store."""

    def kem_by_id(self, kem_key_id: str) -> KemKeyPair: ...


def open_grant(record_key: str, value: bytes, keys: KemKeyLookup) -> Grant:
    """Recover the referral key with the recipient's private key, or SealError."""
    try:
        referral_id, recipient, grant_hex = record_key.split("/")
        grant_id = bytes.fromhex(grant_hex)
    except ValueError as error:
        raise SealError("malformed", "grant record key is not referral/recipient/id") from error
    reader = Reader(value)
    if reader.byte() != GRANT_VERSION:
        raise SealError("malformed", "unknown grant version")
    kem_key_id = reader.text(1)
    kem = keys.kem_by_id(kem_key_id)
    try:
        key = kem.algorithm.suite().decrypt(reader.rest(), kem.private_key(),
                                            _info(referral_id, recipient, grant_id))
    except Exception as error:  # the Rust binding raises several types for bad input
        raise SealError("tampered", "grant does not open with this key") from error
    return Grant(referral_id, recipient, grant_id, key)


class KeyRing(Protocol):
    """A service's cache of referral keys; services back it with their own store."""

    def put(self, grant: Grant) -> None: ...

    def get(self, referral_id: str, recipient: str, grant_id: bytes) -> bytes | None: ...

    def erase(self, referral_id: str) -> list[Grant]: ...


class MemoryKeyRing:
    """A KeyRing in a dict: for tests, tools and short-lived processes."""

    def __init__(self) -> None:
        self._grants: dict[tuple[str, str, bytes], Grant] = {}

    def put(self, grant: Grant) -> None:
        self._grants[(grant.referral_id, grant.recipient, grant.grant_id)] = grant

    def get(self, referral_id: str, recipient: str, grant_id: bytes) -> bytes | None:
        grant = self._grants.get((referral_id, recipient, grant_id))
        return grant.key if grant else None

    def erase(self, referral_id: str) -> list[Grant]:
        """Forget every key of the referral; return them so their tombstones can be sent."""
        gone = [g for k, g in self._grants.items() if k[0] == referral_id]
        for grant in gone:
            del self._grants[(grant.referral_id, grant.recipient, grant.grant_id)]
        return gone
