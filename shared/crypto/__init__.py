"""Sealed events: keys, signatures, per-view encryption and crypto-shredding (docs/crypto.md)."""

from shared.crypto.errors import SealError
from shared.crypto.keys import KemAlgorithm, KemKeyPair, SigningKeyPair
from shared.crypto.keystore import FileKeyStore, KeySet, KeyStore, PublicKeyRecord
from shared.crypto.public_keys import EncryptionKey, PublicKeys
from shared.crypto.referral_keys import (
    Grant,
    KeyRing,
    MemoryKeyRing,
    new_grant,
    open_grant,
    seal_grant,
)
from shared.crypto.sealing import Binding, grant_ids, open_view, readable_views, seal_views
from shared.crypto.signing import sign_record, verify_record

__all__ = [
    "Binding", "EncryptionKey", "FileKeyStore", "Grant", "KemAlgorithm", "KemKeyPair",
    "KeyRing", "KeySet", "KeyStore", "MemoryKeyRing", "PublicKeyRecord", "PublicKeys",
    "SealError", "SigningKeyPair", "grant_ids", "new_grant", "open_grant", "open_view",
    "readable_views", "seal_grant", "seal_views", "sign_record", "verify_record",
]
