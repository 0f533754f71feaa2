"""Webhook signatures: a receiver following docs/notifier.md accepts ours, refuses the rest."""

from __future__ import annotations

import pytest

from services.notifier.webhook_signature import (
    SIGNATURE,
    TIMESTAMP,
    SeenIds,
    WebhookRejected,
    sign,
    verify,
)

SECRET = b"test-secret-not-real"
BODY = b'{"notification_id":"ntf-1","text":"A new referral is offered"}'
NOW = 1_800_000_000.0


def receiver(now: float = NOW) -> SeenIds:
    return SeenIds(lambda: now)


def test_a_signed_webhook_verifies() -> None:
    headers = sign(SECRET, delivery_id="ntf-1", body=BODY, now=NOW)
    assert verify(SECRET, headers, BODY, now=NOW + 5, seen=receiver()) == "ntf-1"


@pytest.mark.parametrize("tamper", ["body", "timestamp", "delivery_id", "secret"])
def test_a_tampered_webhook_is_refused(tamper: str) -> None:
    headers = sign(SECRET, delivery_id="ntf-1", body=BODY, now=NOW)
    body, secret = BODY, SECRET
    if tamper == "body":
        body = BODY.replace(b"offered", b"OFFERED")
    elif tamper == "timestamp":
        headers[TIMESTAMP] = str(int(NOW) + 1)
    elif tamper == "delivery_id":
        headers["Haven-Delivery-Id"] = "ntf-2"
    else:
        secret = b"another-secret"
    with pytest.raises(WebhookRejected) as refused:
        verify(secret, headers, body, now=NOW, seen=receiver())
    assert refused.value.reason == "bad-signature"


def test_a_replay_inside_the_window_is_refused_by_its_id() -> None:
    headers = sign(SECRET, delivery_id="ntf-1", body=BODY, now=NOW)
    seen = receiver()
    verify(SECRET, headers, BODY, now=NOW, seen=seen)
    with pytest.raises(WebhookRejected) as refused:
        verify(SECRET, headers, BODY, now=NOW + 60, seen=seen)
    assert refused.value.reason == "replayed"


def test_a_replay_after_the_window_is_refused_by_its_age() -> None:
    headers = sign(SECRET, delivery_id="ntf-1", body=BODY, now=NOW)
    with pytest.raises(WebhookRejected) as refused:
        verify(SECRET, headers, BODY, now=NOW + 301, seen=receiver(NOW + 301))
    assert refused.value.reason == "stale"


def test_missing_or_garbled_headers_are_refused() -> None:
    headers = sign(SECRET, delivery_id="ntf-1", body=BODY, now=NOW)
    for broken in ({**headers, TIMESTAMP: "soon"},
                   {k: v for k, v in headers.items() if k != SIGNATURE}):
        with pytest.raises(WebhookRejected) as refused:
            verify(SECRET, broken, BODY, now=NOW, seen=receiver())
        assert refused.value.reason == "missing-header"


def test_header_names_are_case_insensitive_as_in_http() -> None:
    headers = {k.lower(): v for k, v in sign(SECRET, delivery_id="x1", body=BODY,
                                             now=NOW).items()}
    assert verify(SECRET, headers, BODY, now=NOW, seen=receiver()) == "x1"
