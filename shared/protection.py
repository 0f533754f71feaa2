"""Sealing event bodies for their readers, and opening them: the bridge from events to crypto.

`SealedPayload` is a PayloadCodec: on the way out it encrypts the body's views
for the readers `shared.recipients` names (reusing one grant per referral and
reader while the process lives, if asked) and returns, with the value, the grant
records that must be published before the event; on the way in it opens the view
this service may read with the referral key from its ring.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from shared import topics
from shared.crypto import (
    Binding,
    Grant,
    KeyRing,
    KeyStore,
    PublicKeys,
    SealError,
    grant_ids,
    new_grant,
    open_grant,
    open_view,
    readable_views,
    seal_grant,
    seal_views,
    sign_record,
    verify_record,
)
from shared.crypto.signing import SIGNATURE_HEADERS
from shared.envelope import CloudEvent, EnvelopeError, Headers, unique_headers
from shared.recipients import (
    INTAKE,
    SEALED_TYPES,
    SERVICES,
    producer_of,
    referral_of,
    views_for,
)
from shared.records import (
    EncodedPayload,
    JsonPayload,
    OutgoingRecord,
    PayloadCodec,
    RecordCodec,
    RejectedRecord,
)

SEALED_CONTENT_TYPE = "application/vnd.haven.sealed.v1"
GRANT_CONTENT_TYPE = "application/vnd.haven.grant.v1"
_CACHE = 10_000


class SealedPayload:
    """Encrypts bodies to their readers and opens the views this owner may read.

    Every call returns the grant records its event needs (`EncodedPayload.grants`);
    nothing is queued on the object, so threads encoding at once never trade grants.
    With `reuse_grants`, a grant is used again for the referral and reader, and sent
    again with every event that uses it until a publisher reports it `published`.
    """

    content_type = SEALED_CONTENT_TYPE

    def __init__(self, *, owner: str, public_keys: PublicKeys, ring: KeyRing,
                 reuse_grants: bool = True) -> None:
        self.owner = owner
        self._reuse = reuse_grants
        self._public_keys = public_keys
        self._ring = ring
        self._issued: OrderedDict[tuple[str, str], Grant] = OrderedDict()
        self._unpublished: dict[bytes, OutgoingRecord] = {}
        self._lock = threading.Lock()

    def encode(self, body: dict[str, Any], attributes: CloudEvent) -> EncodedPayload:
        views = views_for(attributes.type, body)
        referral = referral_of(attributes.type, body)
        if views is None or referral is None:
            raise SealError("not-a-recipient", f"{attributes.type} is not a sealed event type")
        if attributes.subject != referral:
            raise SealError("malformed", "a sealed event's subject must be its referral id")
        plaintext = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        binding = Binding(attributes.id, attributes.type, attributes.subject, referral)
        readers = {reader for names in views.values() for reader in names
                   if self._reachable(reader)}
        grants, records = self._grants(referral, sorted(readers))
        sealed = {name: (plaintext, [grants[reader] for reader in names if reader in grants])
                  for name, names in views.items()}
        return EncodedPayload(seal_views(binding, sealed), tuple(records))

    def published(self, records: Sequence[OutgoingRecord]) -> None:
        """Grants the broker acknowledged are not sent again with later events."""
        with self._lock:
            for record in records:
                self._unpublished.pop(record.key, None)

    def _reachable(self, reader: str) -> bool:
        """Services must have keys (a missing one is an error); an organization may not have
        published one yet (it reads through intake's pages then, not from Kafka)."""
        if not reader.startswith("org:"):
            return True
        try:
            self._public_keys.encryption_key(reader)
        except SealError:
            return False
        return True

    def decode(self, value: bytes, attributes: CloudEvent) -> dict[str, Any]:
        binding = Binding(attributes.id, attributes.type, attributes.subject, attributes.subject)
        try:
            mine = readable_views(value, self.owner)
            if not mine:
                raise SealError("not-a-recipient", f"{self.owner} reads no view of this event")
            body = json.loads(open_view(value, binding, mine[0], self.owner, self._ring))
        except SealError as error:
            raise RejectedRecord(error.reason, error.detail) from error
        if not isinstance(body, dict):
            raise RejectedRecord("malformed-payload", "sealed body is not a JSON object")
        return body

    def _grants(self, referral: str, readers: list[str]
                ) -> tuple[dict[str, Grant], list[OutgoingRecord]]:
        """Each reader's grant for this event, and the grant records to publish before it.

        Without reuse every event gets fresh grants: a producer whose records can be
        rolled back after encoding (a database transaction around an outbox) then never
        refers to a grant that was not committed with the same event.
        """
        grants: dict[str, Grant] = {}
        records: list[OutgoingRecord] = []
        with self._lock:
            for reader in readers:
                grant = self._issued.get((referral, reader)) if self._reuse else None
                if grant is None:
                    grant = new_grant(referral, reader)
                    record = self._grant_record(grant)
                    if self._reuse:
                        self._remember(referral, reader, grant, record)
                    records.append(record)
                elif (waiting := self._unpublished.get(grant.record_key.encode())) is not None:
                    records.append(waiting)
                if reader == self.owner:
                    self._ring.put(grant)
                grants[reader] = grant
        return grants, records

    def _grant_record(self, grant: Grant) -> OutgoingRecord:
        value = seal_grant(grant, self._public_keys.encryption_key(grant.recipient))
        return OutgoingRecord(topic=topics.REFERRAL_KEYS.name, key=grant.record_key.encode(),
                              value=value, headers=_key_record_headers(grant.referral_id))

    def _remember(self, referral: str, reader: str, grant: Grant,
                  record: OutgoingRecord) -> None:
        self._issued[(referral, reader)] = grant
        self._unpublished[record.key] = record
        if len(self._issued) > _CACHE:
            (_, _), dropped = self._issued.popitem(last=False)
            self._unpublished.pop(dropped.record_key.encode(), None)

    def forget(self, referral: str) -> None:
        """Erasure: never reuse this referral's grants again."""
        with self._lock:
            for key in [k for k in self._issued if k[0] == referral]:
                self._unpublished.pop(self._issued.pop(key).record_key.encode(), None)


GRANT_HEADERS = frozenset({"content-type", "ce_subject"}) | SIGNATURE_HEADERS


def _key_record_headers(referral: str) -> list[tuple[str, bytes]]:
    return [("content-type", GRANT_CONTENT_TYPE.encode()), ("ce_subject", referral.encode())]


def grant_tombstone(record_key: bytes) -> OutgoingRecord:
    """The record that erases one grant (unsigned: the erasure authority signs it)."""
    referral = record_key.split(b"/", 1)[0].decode()
    return OutgoingRecord(topic=topics.REFERRAL_KEYS.name, key=record_key, value=b"",
                          headers=_key_record_headers(referral), tombstone=True)


class ForgedKeyRecord(SealError):
    """A `referral.keys` record its claimed writer did not sign, or may not write."""


def accept_grant(record_key: bytes, value: bytes | None, headers: Headers, *, owner: str,
                 keys: KeyStore, public_keys: PublicKeys, ring: KeyRing) -> Grant | None:
    """Take a `referral.keys` record: open it if it is ours, honour a tombstone, else ignore.

    Nothing reaches the ring before `verified_key_record`: a forged tombstone would
    erase a live referral's key, a forged grant would plant one. A grant is opened
    first (HPKE decryption of untrusted bytes is safe), so one sealed to a key we
    never held is refused as cheaply as before signatures were checked here.
    """
    referral, recipient = _grant_key(record_key)
    if recipient != owner:
        return None
    grant = None if value is None else open_grant(record_key.decode(), value, keys)
    verified_key_record(record_key, value, headers, public_keys=public_keys)
    if grant is None:  # tombstone: the referral was erased
        ring.erase(referral)
    else:
        ring.put(grant)
    return grant


def _grant_key(record_key: bytes) -> tuple[str, str]:
    try:
        referral, recipient, _ = record_key.decode().split("/")
    except (UnicodeDecodeError, ValueError) as error:
        raise SealError("malformed", "grant key is not referral/recipient/id") from error
    return referral, recipient


def verified_key_record(record_key: bytes, value: bytes | None, headers: Headers, *,
                        public_keys: PublicKeys) -> None:
    """Return if the grant or tombstone was really signed by a writer allowed to write it,
    else ForgedKeyRecord. Any service may issue grants; only intake, the erasure
    authority, erases."""
    referral, _ = _grant_key(record_key)
    try:
        found = unique_headers(headers, known=GRANT_HEADERS)
        signer = verify_record(public_keys, headers, record_key, value or b"")
    except (EnvelopeError, SealError) as error:
        raise ForgedKeyRecord(error.reason, error.detail) from error
    if found.get("content-type") != GRANT_CONTENT_TYPE.encode():
        raise ForgedKeyRecord("malformed", "a key record must say it is a grant")
    if found.get("ce_subject") != referral.encode():
        raise ForgedKeyRecord("subject-mismatch", "ce_subject differs from the grant's referral")
    allowed = (INTAKE,) if value is None else SERVICES
    if signer not in allowed:
        raise ForgedKeyRecord("wrong-producer", f"{signer[:40]} may not write this key record")


class PlainPayload(JsonPayload):
    """JSON for event types that carry no personal data; refuses types that must be sealed."""

    def decode(self, value: bytes, attributes: CloudEvent) -> dict[str, Any]:
        if attributes.type in SEALED_TYPES:
            raise RejectedRecord("not-sealed", f"{attributes.type} must arrive sealed")
        return super().decode(value, attributes)


def needed_grants(value: bytes | None, headers: Headers, owner: str) -> tuple[str, list[bytes]]:
    """(referral, grant ids) a sealed record needs before `owner` can open it; empty if none."""
    found = {name: bytes(raw) for name, raw in headers}
    if found.get("content-type") != SEALED_CONTENT_TYPE.encode() or not value:
        return "", []
    try:
        return found.get("ce_subject", b"").decode(), grant_ids(value, owner)
    except (SealError, UnicodeDecodeError):
        return "", []


def signed_by_its_producer(event_type: str, signer: str) -> str:
    """The signer, if it is the service that produces this event type; else SealError.

    The type is a signed header, so it cannot be changed to one the signer may send;
    it comes from the attributes the codec parsed once (a repeated header is refused
    before), so the type checked here is the type every reader acts on.
    """
    expected = producer_of(event_type)
    if expected is not None and signer != expected:
        raise SealError("wrong-producer", f"signed by {signer[:40]}, produced by {expected}")
    return signer


def protected_codec(*, source: str, owner: str, keys: KeyStore, public_keys: PublicKeys,
                    ring: KeyRing, reuse_grants: bool = True
                    ) -> tuple[RecordCodec, SealedPayload]:
    """The codec a service uses: signs everything, seals referral events, verifies all."""
    sealed = SealedPayload(owner=owner, public_keys=public_keys, ring=ring,
                           reuse_grants=reuse_grants)
    plain = PlainPayload()
    identity = keys.active(owner)

    def sign(headers: Headers, key: bytes, value: bytes) -> list[tuple[str, bytes]]:
        return sign_record(identity.signing, headers, key, value)

    def verify(attributes: CloudEvent, headers: Headers, key: bytes | None,
               value: bytes | None) -> str:
        signer = verify_record(public_keys, headers, key, value)
        return signed_by_its_producer(attributes.type, signer)

    def writer_for(event_type: str) -> PayloadCodec:
        return sealed if event_type in SEALED_TYPES else plain

    codec = RecordCodec(source=source, payloads=(sealed, plain), signer=sign, verifier=verify,
                        writer_for=writer_for, signature_headers=SIGNATURE_HEADERS)
    return codec, sealed
