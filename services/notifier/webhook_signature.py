"""Signed webhooks: how Haven signs a body and how a receiver verifies it and refuses replays.

The signature is HMAC-SHA256 over `v1.<timestamp>.<delivery id>.<body>` with the
organization's shared secret. The receiver (see docs/notifier.md) recomputes it
in constant time, refuses a timestamp more than `tolerance` away from its clock,
and refuses a delivery id it has already accepted within that window. A replayed
request is caught either way: inside the window by its id, outside by its age.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping

TIMESTAMP = "Haven-Timestamp"
DELIVERY_ID = "Haven-Delivery-Id"
SIGNATURE = "Haven-Signature"
TOLERANCE_S = 300


class WebhookRejected(Exception):
    """The receiver must not act on this request; `reason` says why (a code, no content)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def signature(secret: bytes, *, timestamp: int, delivery_id: str, body: bytes) -> str:
    """The `v1=` signature of a body sent at `timestamp` (Unix seconds) as `delivery_id`."""
    signed = b"v1." + str(timestamp).encode() + b"." + delivery_id.encode() + b"." + body
    return "v1=" + hmac.new(secret, signed, hashlib.sha256).hexdigest()


def sign(secret: bytes, *, delivery_id: str, body: bytes, now: float) -> dict[str, str]:
    """The headers Haven sends with a webhook body."""
    timestamp = int(now)
    return {TIMESTAMP: str(timestamp), DELIVERY_ID: delivery_id,
            SIGNATURE: signature(secret, timestamp=timestamp, delivery_id=delivery_id,
                                 body=body)}


def verify(secret: bytes, headers: Mapping[str, str], body: bytes, *, now: float,
           seen: Callable[[str], bool], tolerance_s: int = TOLERANCE_S) -> str:
    """Check a received webhook; return its delivery id or raise WebhookRejected.

    `seen(delivery_id)` must answer whether the id was accepted before (and remember
    it): the receiver keeps ids for at least `tolerance_s`.
    """
    found = {name.lower(): value for name, value in headers.items()}
    try:
        timestamp = int(found[TIMESTAMP.lower()])
        delivery_id = found[DELIVERY_ID.lower()]
        given = found[SIGNATURE.lower()]
    except (KeyError, ValueError) as error:
        raise WebhookRejected("missing-header") from error
    expected = signature(secret, timestamp=timestamp, delivery_id=delivery_id, body=body)
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise WebhookRejected("bad-signature")
    if abs(now - timestamp) > tolerance_s:
        raise WebhookRejected("stale")
    if seen(delivery_id):
        raise WebhookRejected("replayed")
    return delivery_id


class SeenIds:
    """A receiver's memory of accepted delivery ids, forgotten after the tolerance window."""

    def __init__(self, clock: Callable[[], float], keep_s: int = TOLERANCE_S * 2) -> None:
        self._clock = clock
        self._keep = keep_s
        self._ids: dict[str, float] = {}

    def __call__(self, delivery_id: str) -> bool:
        now = self._clock()
        self._ids = {k: t for k, t in self._ids.items() if now - t <= self._keep}
        if delivery_id in self._ids:
            return True
        self._ids[delivery_id] = now
        return False
