"""The file key store: private files, rotation without downtime, retirement that really ends."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import pytest

from shared.crypto import (
    Binding,
    FileKeyStore,
    MemoryKeyRing,
    PublicKeys,
    SealError,
    new_grant,
    open_grant,
    open_view,
    seal_grant,
    seal_views,
)


def _publish(store: FileKeyStore) -> PublicKeys:
    return PublicKeys(s.public_record() for o in store.owners() for s in store.key_sets(o))


def test_files_are_private(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys")
    store.rotate("org:a")
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    for path in (tmp_path / "keys").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert FileKeyStore(tmp_path / "keys").active("org:a").kem.key_id == (
        store.active("org:a").kem.key_id), "keys survive reopening the store"


def test_rotation_keeps_in_flight_grants_openable_until_retired(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys")
    old = store.rotate("org:a")
    referral = str(uuid.uuid4())
    in_flight = new_grant(referral, "org:a")
    sealed_old = seal_grant(in_flight, _publish(store).encryption_key("org:a"))
    new = store.rotate("org:a")
    keys_now = _publish(store)
    assert keys_now.encryption_key("org:a").key_id == new.kem.key_id, "new events use new key"
    assert open_grant(in_flight.record_key, sealed_old, store).key == in_flight.key
    assert [s.status for s in store.key_sets("org:a")] == ["retiring", "active"]
    with pytest.raises(SealError):
        store.retire("org:a", new.kem.key_id)
    store.retire("org:a", old.kem.key_id)
    with pytest.raises(SealError) as gone:
        open_grant(in_flight.record_key, sealed_old, store)
    assert gone.value.reason == "unknown-kem-key"
    fresh = new_grant(referral, "org:a")
    ring = MemoryKeyRing()
    ring.put(open_grant(fresh.record_key, seal_grant(fresh, keys_now.encryption_key("org:a")),
                        store))
    binding = Binding("e", "t", referral, referral)
    assert open_view(seal_views(binding, {"v": (b"x", [fresh])}), binding, "v", "org:a",
                     ring) == b"x"


def test_a_key_retired_by_another_process_is_gone_for_a_running_one(tmp_path: Path) -> None:
    """The running service caches decoded keys; a change of the files by the operator's
    command (another FileKeyStore on the same folder) must end that cache."""
    running = FileKeyStore(tmp_path / "keys")
    first = running.rotate("service:intake")
    assert running.kem_by_id(first.kem.key_id) == first.kem  # now cached
    operator = FileKeyStore(tmp_path / "keys")
    second = operator.rotate("service:intake")
    operator.retire("service:intake", first.kem.key_id)
    with pytest.raises(SealError):
        running.kem_by_id(first.kem.key_id)
    assert running.active("service:intake").kem.key_id == second.kem.key_id
