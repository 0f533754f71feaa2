"""Validation problems in words that never repeat what was sent.

Field names can be typed data too (a client may put a name where a key goes), and
some of pydantic's messages quote the input (a UUID's "found `x` at 3"). So an
unknown field is named by its position among its object's keys, and messages of
the kinds that quote input are replaced by fixed words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic_core import ErrorDetails

# pydantic error types whose message quotes the input: fixed words instead.
_FIXED = {
    "uuid_parsing": "must be a UUID such as 3f2b8c1e-0d4a-4e5f-9a6b-7c8d9e0f1a2b",
    "uuid_type": "must be a UUID such as 3f2b8c1e-0d4a-4e5f-9a6b-7c8d9e0f1a2b",
    "uuid_version": "must be a UUID of version 1 to 8",
    "extra_forbidden": "an unknown field: remove it, or check its spelling against the "
                       "API's field names",
}
_QUOTED = re.compile(r",? ?found `.*$")


def message(item: ErrorDetails) -> str:
    """The problem in plain words, without any part of the value sent."""
    fixed = _FIXED.get(item["type"])
    if fixed is not None:
        return fixed
    return _QUOTED.sub("", str(item.get("msg", "is not valid")).removeprefix("Value error, "))


def location(item: ErrorDetails, document: object) -> list[int | str]:
    """The path to the problem; an unknown field becomes "(unknown field N)", N counting the
    keys of its object from 1, found by walking `document` (what was sent) along the path."""
    loc: Sequence[int | str] = item.get("loc", ())
    if item["type"] != "extra_forbidden" or not loc:
        return list(loc)
    parent: Any = document
    for part in loc[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            parent = None
            break
    keys = list(parent) if isinstance(parent, dict) else []
    position = keys.index(loc[-1]) + 1 if loc[-1] in keys else 0
    return [*loc[:-1], f"(unknown field {position})" if position else "(an unknown field)"]
