"""A short reference for a referral that people can read out and find, and that names nobody.

Outreach e-mails and the outreach worker's pages show the same reference, so a
message can be matched to its referral without any personal detail in the message.
It is cut from the referral's random id (uuid4): it says nothing about the person.
"""

from __future__ import annotations

import uuid


def referral_reference(referral_id: uuid.UUID | str) -> str:
    """`R-1A2B-3C4D`: the id's first eight hex digits, grouped so they are easy to read."""
    digits = uuid.UUID(str(referral_id)).hex[:8].upper()
    return f"R-{digits[:4]}-{digits[4:]}"
