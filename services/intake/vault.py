"""Encryption at rest for personal data, with erasure by destroying a referral's key.

Each referral gets its own 256-bit data key; the key is stored wrapped (AES-GCM)
under the intake's key-encryption key, and every sealed field binds the referral
id and the field's purpose as associated data, so ciphertext cannot be moved
between referrals or fields. Erasing a referral deletes its wrapped key: the
sealed columns that remain (and any copy in a later-restored backup taken after
the erasure) are then unreadable.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, Session, SQLModel

from shared.crypto.secret_files import SecretFileError, load_secret

NONCE = 12
VERSION = b"\x01"


class VaultError(Exception):
    """Sealed data that cannot be opened: erased, tampered with, or sealed elsewhere."""


class ReferralDataKey(SQLModel, table=True):
    referral_id: uuid.UUID = Field(primary_key=True)
    wrapped_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


def load_or_create_key(path: Path) -> bytes:
    """A 32-byte development secret: a 0600 file made on first use (production: `load_key`)."""
    try:
        return load_secret(path, create_missing=True)
    except SecretFileError as error:
        raise VaultError(str(error)) from error


def load_key(path: Path) -> bytes:
    """The key-encryption key as provisioned; a missing file is an error, never a new key."""
    try:
        return load_secret(path, create_missing=False)
    except SecretFileError as error:
        raise VaultError(str(error)) from error


class Vault:
    """Seals and opens one referral's fields inside the caller's database transaction."""

    def __init__(self, kek: bytes) -> None:
        self._kek = AESGCM(kek)
        # The audit chain's HMAC key (audit_chain.py), derived so that it needs no key file
        # of its own and is as well kept as the key-encryption key itself.
        self.audit_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                              info=b"haven-intake-audit-chain|v1").derive(kek)

    def seal(self, session: Session, referral_id: uuid.UUID, purpose: str, data: bytes) -> bytes:
        """Encrypt `data` under the referral's key, creating that key on first use."""
        key = self._data_key(session, referral_id, create=True)
        nonce = os.urandom(NONCE)
        return VERSION + nonce + AESGCM(key).encrypt(nonce, data, _aad(referral_id, purpose))

    def open(self, session: Session, referral_id: uuid.UUID, purpose: str, sealed: bytes) -> bytes:
        """Decrypt, or raise VaultError (erased referral, wrong field, flipped bit)."""
        key = self._data_key(session, referral_id, create=False)
        if sealed[:1] != VERSION or len(sealed) < 1 + NONCE + 16:
            raise VaultError("not a sealed value of this version")
        try:
            return AESGCM(key).decrypt(sealed[1:1 + NONCE], sealed[1 + NONCE:],
                                       _aad(referral_id, purpose))
        except InvalidTag as error:
            raise VaultError("sealed value does not belong to this referral and field") from error

    def erase(self, session: Session, referral_id: uuid.UUID) -> None:
        """Crypto-shred: without the wrapped key, nothing sealed for this referral opens."""
        row = session.get(ReferralDataKey, referral_id)
        if row is not None:
            session.delete(row)

    def _data_key(self, session: Session, referral_id: uuid.UUID, *, create: bool) -> bytes:
        row = session.get(ReferralDataKey, referral_id)
        aad = b"haven-intake-dek|" + referral_id.bytes
        if row is not None:
            try:
                return self._kek.decrypt(row.wrapped_key[:NONCE], row.wrapped_key[NONCE:], aad)
            except InvalidTag as error:
                raise VaultError("data key does not unwrap: wrong key-encryption key") from error
        if not create:
            raise VaultError("this referral's data were erased")
        key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(NONCE)
        session.add(ReferralDataKey(referral_id=referral_id,
                                    wrapped_key=nonce + self._kek.encrypt(nonce, key, aad)))
        return key


def _aad(referral_id: uuid.UUID, purpose: str) -> bytes:
    return b"haven-intake-field|" + referral_id.bytes + b"|" + purpose.encode()
