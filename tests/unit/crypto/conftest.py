"""Key material for the crypto tests: made once per session (ML-KEM key generation is not free)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.crypto import FileKeyStore, KemAlgorithm, PublicKeys

OWNERS = ("service:matching", "service:notifier", "org:provider-a", "org:provider-b")


@pytest.fixture(scope="session")
def keystore(tmp_path_factory: pytest.TempPathFactory) -> FileKeyStore:
    store = FileKeyStore(tmp_path_factory.mktemp("keys") / "store")
    for owner in OWNERS:
        store.rotate(owner)
    store.rotate("service:intake", KemAlgorithm.X25519)
    return store


@pytest.fixture(scope="session")
def public_keys(keystore: FileKeyStore) -> PublicKeys:
    return PublicKeys(s.public_record() for o in keystore.owners() for s in keystore.key_sets(o))


def scratch(tmp_path: Path) -> FileKeyStore:
    return FileKeyStore(tmp_path / "scratch")
