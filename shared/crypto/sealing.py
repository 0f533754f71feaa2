"""Views: each part of an event encrypted once, its key wrapped for each entitled recipient.

A view's ciphertext binds the event id, type, subject and view name, so it cannot
be moved to another event or renamed. The recipient list is in the clear (owner
ids and grant ids only), so a consumer knows which views it may open without
trying them all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.crypto.errors import SealError
from shared.crypto.referral_keys import GRANT_ID_BYTES, Grant, KeyRing
from shared.crypto.wire import Reader, field

MAGIC = b"HVS1"
NONCE = 12


@dataclass(frozen=True)
class Binding:
    """What a view is bound to: the CloudEvents attributes of its event and the referral."""

    event_id: str
    event_type: str
    subject: str
    referral_id: str

    def view_aad(self, view: str) -> bytes:
        return (b"haven-view-v1" + field(self.event_id.encode()) + field(self.event_type.encode())
                + field(self.subject.encode()) + field(view.encode()))

    def wrap_aad(self, view: str, grant: Grant) -> bytes:
        return (b"haven-dek-v1" + field(self.event_id.encode()) + field(view.encode())
                + field(self.referral_id.encode()) + field(grant.recipient.encode())
                + field(grant.grant_id))


def seal_views(binding: Binding, views: Mapping[str, tuple[bytes, Sequence[Grant]]]) -> bytes:
    """Encrypt each view under a fresh data key and wrap that key under each recipient's grant."""
    parts = [MAGIC, bytes([len(views)])]
    for name, (plaintext, grants) in views.items():
        if any(g.referral_id != binding.referral_id for g in grants):
            raise SealError("not-a-recipient", "grant of another referral")
        data_key, nonce = AESGCM.generate_key(256), os.urandom(NONCE)
        ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, binding.view_aad(name))
        parts += [field(name.encode(), 1), nonce, field(ciphertext, 4), bytes([len(grants)])]
        for grant in grants:
            wrap_nonce = os.urandom(NONCE)
            wrapped = AESGCM(grant.key).encrypt(wrap_nonce, data_key,
                                                binding.wrap_aad(name, grant))
            parts += [field(grant.recipient.encode(), 1), grant.grant_id, wrap_nonce,
                      field(wrapped, 1)]
    return b"".join(parts)


@dataclass(frozen=True)
class _Recipient:
    owner: str
    grant_id: bytes
    nonce: bytes
    wrapped: bytes


@dataclass(frozen=True)
class _View:
    nonce: bytes
    ciphertext: bytes
    recipients: tuple[_Recipient, ...]


def _parse(value: bytes) -> dict[str, _View]:
    reader = Reader(value)
    if reader.take(len(MAGIC)) != MAGIC:
        raise SealError("malformed", "not a sealed Haven value")
    views: dict[str, _View] = {}
    for _ in range(reader.byte()):
        name, nonce, ciphertext = reader.text(1), reader.take(NONCE), reader.field(4)
        recipients = tuple(
            _Recipient(reader.text(1), reader.take(GRANT_ID_BYTES), reader.take(NONCE),
                       reader.field(1))
            for _ in range(reader.byte()))
        if name in views:
            raise SealError("malformed", "a view name appears twice")
        views[name] = _View(nonce, ciphertext, recipients)
    reader.done()
    return views


def grant_ids(value: bytes, owner: str) -> list[bytes]:
    """The grants `owner` needs to open its views (read from the clear recipient lists)."""
    return sorted({r.grant_id for view in _parse(value).values() for r in view.recipients
                   if r.owner == owner})


def readable_views(value: bytes, owner: str) -> list[str]:
    """The views `owner` is a recipient of, read from the clear recipient lists."""
    return [name for name, view in _parse(value).items()
            if any(r.owner == owner for r in view.recipients)]


def open_view(value: bytes, binding: Binding, view: str, owner: str, ring: KeyRing) -> bytes:
    """Decrypt one view as `owner`, or SealError saying why not (never another exception)."""
    parsed = _parse(value).get(view)
    if parsed is None:
        raise SealError("not-a-recipient", f"no view {view!r} in this event")
    entry = next((r for r in parsed.recipients if r.owner == owner), None)
    if entry is None:
        raise SealError("not-a-recipient", f"{owner} may not read {view!r}")
    referral_key = ring.get(binding.referral_id, owner, entry.grant_id)
    if referral_key is None:
        raise SealError("erased", "no referral key: erased, or its grant not yet received")
    grant = Grant(binding.referral_id, owner, entry.grant_id, referral_key)
    try:
        data_key = AESGCM(referral_key).decrypt(entry.nonce, entry.wrapped,
                                                binding.wrap_aad(view, grant))
        return AESGCM(data_key).decrypt(parsed.nonce, parsed.ciphertext, binding.view_aad(view))
    except (InvalidTag, ValueError) as error:
        raise SealError("tampered", f"view {view!r} fails authentication") from error
