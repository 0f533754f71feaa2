"""A service's own keys and everyone's public keys, as found on this machine.

Each service's private keys live in their own key store (`<var>/keys/private/
<service>/`), and every published public key record in `<var>/keys/public/`.
Outside production a missing service key set is generated on first use, so
`make up` and the tests need no key ceremony; in production keys are made with
`haven keys init` (or `haven keys generate`), and a missing one is an error.
"""

from __future__ import annotations

import fcntl
import json
import re
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from shared.crypto import EncryptionKey, FileKeyStore, PublicKeyRecord, PublicKeys, SealError
from shared.grant_follower import GrantFollower
from shared.protection import SealedPayload, protected_codec
from shared.recipients import SERVICES
from shared.records import RecordCodec
from shared.settings import KafkaSettings, RuntimeSettings

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _slug(owner: str) -> str:
    return _SAFE.sub("_", owner)


def private_store(runtime: RuntimeSettings, owner: str) -> FileKeyStore:
    return FileKeyStore(runtime.var_dir / "keys" / "private" / _slug(owner))


def public_dir(runtime: RuntimeSettings) -> Path:
    return runtime.var_dir / "keys" / "public"


def ensure_service_keys(runtime: RuntimeSettings) -> None:
    """Development bootstrap: every service has a key set and a published public record.
    In production a missing key set is an error (`haven keys init` provisions them)."""
    _service_keys(runtime, create=runtime.environment != "production")


def provision_service_keys(runtime: RuntimeSettings) -> list[str]:
    """`haven keys init`: key sets for the services that have none, all published; returns
    the owners whose keys were made now."""
    return _service_keys(runtime, create=True)


def _service_keys(runtime: RuntimeSettings, *, create: bool) -> list[str]:
    """Services start in parallel; a file lock makes sure only one of them creates keys."""
    lock_path = runtime.var_dir / "keys" / ".bootstrap.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    made: list[str] = []
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for owner in SERVICES:
            store = private_store(runtime, owner)
            if not store.key_sets(owner):
                if not create:
                    raise SealError("unknown-kem-key", f"no keys provisioned for {owner}: "
                                                       "run `haven keys init`")
                store.rotate(owner)
                made.append(owner)
            publish(runtime, store, owner)
    return made


def publish(runtime: RuntimeSettings, store: FileKeyStore, owner: str) -> None:
    """Write the owner's public records (active and retiring) where others look them up."""
    folder = public_dir(runtime)
    folder.mkdir(parents=True, exist_ok=True)
    records = [key_set.public_record().model_dump(mode="json")
               for key_set in store.key_sets(owner)]
    (folder / f"{_slug(owner)}.json").write_text(json.dumps(records, indent=1))


class FolderPublicKeys(PublicKeys):
    """PublicKeys read from the public folder, re-read when a key id is not known yet.

    Only when a file changed: a stream of records signed by keys nobody published
    (a replay of foreign data, an attack) then costs a few stat calls each, not a
    parse of every key file.
    """

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self._folder = folder
        self._seen: tuple[tuple[str, int, int], ...] = ()
        self.reload()

    def reload(self) -> None:
        paths = sorted(self._folder.glob("*.json"))
        state = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
        if state == self._seen:
            return
        for path in paths:
            for item in json.loads(path.read_text()):
                self.add(PublicKeyRecord.model_validate(item))
        self._seen = state

    def verifying_key(self, signing_key_id: str) -> tuple[str, ed25519.Ed25519PublicKey]:
        try:
            return super().verifying_key(signing_key_id)
        except SealError:
            self.reload()
            return super().verifying_key(signing_key_id)

    def encryption_key(self, owner: str) -> EncryptionKey:
        try:
            return super().encryption_key(owner)
        except SealError:
            self.reload()
            return super().encryption_key(owner)


def service_codec(
    owner: str, *, source: str, runtime: RuntimeSettings, kafka: KafkaSettings,
    reuse_grants: bool = True, public_keys: PublicKeys | None = None,
    index_all_grants: bool = False,
) -> tuple[RecordCodec, SealedPayload, GrantFollower]:
    """A service's codec (signs, seals, verifies, opens) and the follower that feeds its ring.

    The follower is not started here: nothing connects until the service starts it.
    `index_all_grants` is for intake, which tombstones every grant of an erased referral.
    """
    ensure_service_keys(runtime)
    store = private_store(runtime, owner)
    public = public_keys or FolderPublicKeys(public_dir(runtime))
    follower = GrantFollower(owner=owner, keys=store, public_keys=public, kafka=kafka,
                             index_all=index_all_grants)
    codec, sealed = protected_codec(source=source, owner=owner, keys=store, public_keys=public,
                                    ring=follower.ring, reuse_grants=reuse_grants)
    return codec, sealed, follower
