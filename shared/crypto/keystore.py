"""Private keys behind a small interface: local 0600 files by default, a KMS or Vault later.

An owner ("service:matching", "org:<uuid>") has one active key set and, during a
rotation, older ones that are `retiring`: still used to open what was sealed to
them, never to seal or sign anew. `retire` ends that; the keys are then gone.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from shared.crypto.errors import SealError
from shared.crypto.keys import KemAlgorithm, KemKeyPair, SigningKeyPair

Status = Literal["active", "retiring"]


@dataclass(frozen=True)
class KeySet:
    """One generation of an owner's keys."""

    owner: str
    kem: KemKeyPair
    signing: SigningKeyPair
    created_at: datetime
    status: Status = "active"

    def public_record(self) -> PublicKeyRecord:
        return PublicKeyRecord(
            owner=self.owner, kem_algorithm=self.kem.algorithm, kem_key_id=self.kem.key_id,
            kem_public_b64=base64.b64encode(self.kem.public_bytes()).decode(),
            signing_key_id=self.signing.key_id,
            signing_public_b64=base64.b64encode(self.signing.public_bytes()).decode(),
            created_at=self.created_at, status=self.status,
        )


class PublicKeyRecord(BaseModel):
    """What the directory publishes about an owner's keys: enough to encrypt to and verify."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    owner: str
    kem_algorithm: KemAlgorithm
    kem_key_id: str
    kem_public_b64: str
    signing_key_id: str
    signing_public_b64: str
    created_at: datetime
    status: Status


class KeyStore(Protocol):
    """Where private keys live. Implementations: FileKeyStore; a KMS/Vault adapter later."""

    def active(self, owner: str) -> KeySet: ...

    def kem_by_id(self, kem_key_id: str) -> KemKeyPair: ...

    def key_sets(self, owner: str) -> list[KeySet]: ...

    def owners(self) -> list[str]: ...

    def rotate(self, owner: str, algorithm: KemAlgorithm = KemAlgorithm.MLKEM768_X25519
               ) -> KeySet: ...

    def retire(self, owner: str, kem_key_id: str) -> None: ...


_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class FileKeyStore:
    """One JSON file per owner, 0600, in a 0700 directory; writes are atomic renames."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)
        # Decoded key sets, valid while no key file changed (name, mtime, size): a grant
        # follower catching up opens thousands of grants, and parsing every owner's file
        # for each one made a restart's catch-up take minutes (issue 18).
        self._cache: tuple[tuple[tuple[str, int, int], ...], dict[str, list[KeySet]]] | None
        self._cache = None

    def active(self, owner: str) -> KeySet:
        sets = [s for s in self.key_sets(owner) if s.status == "active"]
        if not sets:
            raise SealError("unknown-kem-key", f"no active keys for {owner}")
        return sets[-1]

    def kem_by_id(self, kem_key_id: str) -> KemKeyPair:
        for owner in self.owners():
            for key_set in self.key_sets(owner):
                if key_set.kem.key_id == kem_key_id:
                    return key_set.kem
        raise SealError("unknown-kem-key", f"no private key {kem_key_id} (retired or never held)")

    def key_sets(self, owner: str) -> list[KeySet]:
        return list(self._all().get(owner, []))

    def owners(self) -> list[str]:
        return sorted(owner for owner, sets in self._all().items() if sets)

    def _all(self) -> dict[str, list[KeySet]]:
        """Every owner's key sets, read again only when a key file changed."""
        paths = sorted(self.directory.glob("*.json"))
        state = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
        if self._cache is not None and self._cache[0] == state:
            return self._cache[1]
        sets: dict[str, list[KeySet]] = {}
        for path in paths:
            items = json.loads(path.read_text())
            if items:
                owner = items[0]["owner"]
                sets[owner] = [_decode(owner, item) for item in items]
        self._cache = (state, sets)
        return sets

    def rotate(self, owner: str, algorithm: KemAlgorithm = KemAlgorithm.MLKEM768_X25519
               ) -> KeySet:
        """A new active key set; the previous active one becomes `retiring`."""
        fresh = KeySet(owner, KemKeyPair.generate(algorithm), SigningKeyPair.generate(),
                       datetime.now(UTC))
        older = [replace(s, status="retiring") for s in self.key_sets(owner)]
        self._write(owner, [*older, fresh])
        return fresh

    def retire(self, owner: str, kem_key_id: str) -> None:
        """Destroy a retiring key set; what was sealed only to it can no longer be opened."""
        kept = [s for s in self.key_sets(owner) if s.kem.key_id != kem_key_id]
        if any(s.kem.key_id == kem_key_id and s.status == "active"
               for s in self.key_sets(owner)):
            raise SealError("retired-key", "rotate first: the active key cannot be retired")
        self._write(owner, kept)

    def _path(self, owner: str) -> Path:
        return self.directory / f"{_SAFE.sub('_', owner)}.json"

    def _write(self, owner: str, sets: list[KeySet]) -> None:
        text = json.dumps([_encode(s) for s in sets], indent=1)
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".keys-")
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, self._path(owner))
        self._cache = None  # a rewrite within one mtime tick must not keep the old sets


def _encode(key_set: KeySet) -> dict[str, str]:
    return {"owner": key_set.owner, "kem_algorithm": key_set.kem.algorithm.value,
            "kem_private_b64": base64.b64encode(key_set.kem.private_bytes).decode(),
            "signing_private_b64": base64.b64encode(key_set.signing.private_bytes).decode(),
            "created_at": key_set.created_at.isoformat(), "status": key_set.status}


def _decode(owner: str, item: dict[str, str]) -> KeySet:
    status: Status = "active" if item["status"] == "active" else "retiring"
    return KeySet(
        owner=owner,
        kem=KemKeyPair(KemAlgorithm(item["kem_algorithm"]),
                       base64.b64decode(item["kem_private_b64"])),
        signing=SigningKeyPair(base64.b64decode(item["signing_private_b64"])),
        created_at=datetime.fromisoformat(item["created_at"]), status=status,
    )
