"""Other parties' public keys, as published in the directory: who to encrypt to, who signed."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ed25519

from shared.crypto.errors import SealError
from shared.crypto.keys import KemAlgorithm, PublicKem, load_kem_public
from shared.crypto.keystore import PublicKeyRecord


@dataclass(frozen=True)
class EncryptionKey:
    owner: str
    key_id: str
    algorithm: KemAlgorithm
    public: PublicKem


class PublicKeys:
    """Resolves owners to their active encryption key and signing key ids to their owner."""

    def __init__(self, records: Iterable[PublicKeyRecord] = ()) -> None:
        self._records: dict[str, PublicKeyRecord] = {}
        self._verifiers: dict[str, tuple[str, ed25519.Ed25519PublicKey]] = {}
        for record in records:
            self.add(record)

    def add(self, record: PublicKeyRecord) -> None:
        """Learn or update a key (e.g. from a directory event); rotation adds a newer one.

        The table is replaced, not changed in place, so a reader on another thread never
        sees it change under its iteration.
        """
        self._records = {**self._records, record.kem_key_id: record}
        self._verifiers = {}

    def remove(self, kem_key_id: str) -> None:
        """Forget a retired key: its signatures are no longer accepted."""
        self._records = {k: v for k, v in self._records.items() if k != kem_key_id}
        self._verifiers = {}

    def encryption_key(self, owner: str) -> EncryptionKey:
        active = [r for r in self._records.values() if r.owner == owner and r.status == "active"]
        if not active:
            raise SealError("not-a-recipient", f"no published key for {owner}")
        record = max(active, key=lambda r: r.created_at)
        return EncryptionKey(owner, record.kem_key_id, record.kem_algorithm,
                             load_kem_public(record.kem_algorithm,
                                             base64.b64decode(record.kem_public_b64)))

    def verifying_key(self, signing_key_id: str) -> tuple[str, ed25519.Ed25519PublicKey]:
        """The signer's owner and key; parsed keys are cached until the set changes."""
        cached = self._verifiers.get(signing_key_id)
        if cached is not None:
            return cached
        for record in self._records.values():
            if record.signing_key_id == signing_key_id:
                raw = base64.b64decode(record.signing_public_b64)
                found = record.owner, ed25519.Ed25519PublicKey.from_public_bytes(raw)
                self._verifiers[signing_key_id] = found
                return found
        raise SealError("unknown-signing-key", f"no published signing key {signing_key_id[:32]}")
