"""Key pairs and key ids: HPKE key encapsulation (hybrid post-quantum by default) and Ed25519.

Key ids are derived from the public key, so anyone holding a published key can
check the id, and an id can never silently point to a different key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, x25519

from shared.crypto.errors import SealError

X25519_BYTES = 32
MLKEM768_SEED_BYTES = 64
MLKEM768_PUBLIC_BYTES = 1184

PrivateKem = hpke.MLKEM768X25519PrivateKey | x25519.X25519PrivateKey
PublicKem = hpke.MLKEM768X25519PublicKey | x25519.X25519PublicKey


class KemAlgorithm(StrEnum):
    """HPKE KEMs Haven speaks; hybrid by default, X25519 alone where a partner cannot do ML-KEM."""

    MLKEM768_X25519 = "mlkem768-x25519"
    X25519 = "x25519"

    def suite(self) -> hpke.Suite:
        kem = hpke.KEM.MLKEM768_X25519 if self is KemAlgorithm.MLKEM768_X25519 else hpke.KEM.X25519
        return hpke.Suite(kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def key_id(kind: str, algorithm: str, public: bytes) -> str:
    """First 16 bytes of SHA-256 over kind, algorithm and public key bytes, as hex."""
    digest = hashlib.sha256(b"haven-key-id|" + kind.encode() + b"|" + algorithm.encode()
                            + b"|" + public)
    return digest.hexdigest()[:32]


@dataclass(frozen=True)
class KemKeyPair:
    """A key-encapsulation key pair; private bytes are the ML-KEM seed and the X25519 scalar."""

    algorithm: KemAlgorithm
    private_bytes: bytes

    @classmethod
    def generate(cls, algorithm: KemAlgorithm = KemAlgorithm.MLKEM768_X25519) -> KemKeyPair:
        x = x25519.X25519PrivateKey.generate().private_bytes_raw()
        if algorithm is KemAlgorithm.X25519:
            return cls(algorithm, x)
        return cls(algorithm, mlkem.MLKEM768PrivateKey.generate().private_bytes_raw() + x)

    def private_key(self) -> PrivateKem:
        x = x25519.X25519PrivateKey.from_private_bytes(self.private_bytes[-X25519_BYTES:])
        if self.algorithm is KemAlgorithm.X25519:
            return x
        seed = mlkem.MLKEM768PrivateKey.from_seed_bytes(self.private_bytes[:MLKEM768_SEED_BYTES])
        return hpke.MLKEM768X25519PrivateKey(seed, x)

    def public_bytes(self) -> bytes:
        """ML-KEM-768 encapsulation key (1184 bytes) then X25519 (32), or X25519 alone."""
        x = x25519.X25519PrivateKey.from_private_bytes(self.private_bytes[-X25519_BYTES:])
        x_public = x.public_key().public_bytes_raw()
        if self.algorithm is KemAlgorithm.X25519:
            return x_public
        seed = mlkem.MLKEM768PrivateKey.from_seed_bytes(self.private_bytes[:MLKEM768_SEED_BYTES])
        return seed.public_key().public_bytes_raw() + x_public

    @cached_property
    def key_id(self) -> str:
        return key_id("kem", self.algorithm.value, self.public_bytes())


def load_kem_public(algorithm: KemAlgorithm, public: bytes) -> PublicKem:
    """Parse published public key bytes; SealError when they have the wrong shape."""
    try:
        x = x25519.X25519PublicKey.from_public_bytes(public[-X25519_BYTES:])
        if algorithm is KemAlgorithm.X25519:
            if len(public) != X25519_BYTES:
                raise ValueError("length")
            return x
        if len(public) != MLKEM768_PUBLIC_BYTES + X25519_BYTES:
            raise ValueError("length")
        return hpke.MLKEM768X25519PublicKey(
            mlkem.MLKEM768PublicKey.from_public_bytes(public[:MLKEM768_PUBLIC_BYTES]), x)
    except ValueError as error:
        raise SealError("malformed", f"not a {algorithm.value} public key") from error


@dataclass(frozen=True)
class SigningKeyPair:
    """An Ed25519 signing key; every record a service or organization produces carries its id."""

    private_bytes: bytes

    @classmethod
    def generate(cls) -> SigningKeyPair:
        return cls(ed25519.Ed25519PrivateKey.generate().private_bytes_raw())

    @cached_property
    def _private(self) -> ed25519.Ed25519PrivateKey:
        return ed25519.Ed25519PrivateKey.from_private_bytes(self.private_bytes)

    def private_key(self) -> ed25519.Ed25519PrivateKey:
        """Parsed once per key pair: parsing costs more than a signature."""
        return self._private

    def public_bytes(self) -> bytes:
        return self._private.public_key().public_bytes_raw()

    @cached_property
    def key_id(self) -> str:
        return key_id("sign", "ed25519", self.public_bytes())
