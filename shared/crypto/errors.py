"""The one exception family a consumer has to handle for anything cryptographic."""

from __future__ import annotations


class SealError(Exception):
    """A record that must not be trusted or cannot be opened; `reason` is a short code.

    Codes: malformed, bad-signature, unknown-signing-key, not-a-recipient,
    unknown-kem-key, retired-key, erased, tampered.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
