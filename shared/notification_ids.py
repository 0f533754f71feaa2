"""How a notification's id is made: agreed by the notifier, which plans and dedupes on it,
and intake, which watches that the survivor's message about a placement was reported."""

from __future__ import annotations

import hashlib


def notification_id(cause_id: str, recipient: str, channel: str) -> str:
    """Derived from the cause, so a replayed cause plans the same notification (dedupe key)."""
    name = f"haven-notification-v1|{cause_id}|{recipient}|{channel}"
    return "ntf-" + hashlib.sha256(name.encode()).hexdigest()[:32]


def survivor_recipient(referral_id: str) -> str:
    """The survivor is addressed by their referral: the id says nothing about the person."""
    return f"survivor:{referral_id}"
