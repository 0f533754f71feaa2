"""Length-prefixed binary fields: the only parser the sealed formats use.

Every read checks bounds and raises SealError("malformed"), so truncated or
garbled input can never escape as IndexError or struct.error.
"""

from __future__ import annotations

import struct

from shared.crypto.errors import SealError


def field(data: bytes, width: int = 2) -> bytes:
    """A field prefixed by its big-endian length in `width` bytes (1, 2 or 4)."""
    limit = 1 << (8 * width)
    if len(data) >= limit:
        raise SealError("malformed", f"field of {len(data)} bytes exceeds {width}-byte length")
    return len(data).to_bytes(width, "big") + data


class Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def take(self, count: int) -> bytes:
        if count < 0 or self._at + count > len(self._data):
            raise SealError("malformed", "truncated")
        chunk = self._data[self._at:self._at + count]
        self._at += count
        return chunk

    def field(self, width: int = 2) -> bytes:
        return self.take(int.from_bytes(self.take(width), "big"))

    def rest(self) -> bytes:
        return self.take(len(self._data) - self._at)

    def byte(self) -> int:
        return self.take(1)[0]

    def text(self, width: int = 1) -> str:
        try:
            return self.field(width).decode("utf-8")
        except UnicodeDecodeError as error:
            raise SealError("malformed", "text field is not UTF-8") from error

    def done(self) -> None:
        if self._at != len(self._data):
            raise SealError("malformed", "trailing bytes")


def u32(value: int) -> bytes:
    return struct.pack(">I", value)
