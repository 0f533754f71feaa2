"""Symmetric secrets kept in files (intake's key-encryption key, its token secret).

Creating one is a deliberate act (`haven keys init`) in production: a service that
finds its key-encryption key missing must stop, because a fresh key would silently
make everything sealed under the old one unreadable. Only development creates a
missing file on first use, so `make up` needs no key ceremony.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SIZE = 32


class SecretFileError(Exception):
    """A secret file that is missing or malformed; the message says how to fix it."""


def read_secret(path: Path) -> bytes:
    """The 32 bytes in `path`, or SecretFileError (missing, wrong size)."""
    if not path.exists():
        raise SecretFileError(f"no key file at {path}: create it once with `haven keys init` "
                              "(or set the path the deployment provisioned)")
    key = path.read_bytes()
    if len(key) != SIZE:
        raise SecretFileError(f"{path} must hold exactly {SIZE} bytes")
    return key


def create_secret(path: Path) -> bytes:
    """A new random key in a new 0600 file; never replaces an existing one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = AESGCM.generate_key(bit_length=SIZE * 8)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def load_secret(path: Path, *, create_missing: bool) -> bytes:
    """Read the key; make it first only when allowed (development)."""
    if create_missing and not path.exists():
        return create_secret(path)
    return read_secret(path)
