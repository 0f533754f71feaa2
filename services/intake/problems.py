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
_NUMBER = "must be a whole number, such as 30 (digits only)"
_WHEN = "must be a date and time such as 2026-12-31T23:59:00Z"
# pydantic's own messages read as code ("Input should be a valid integer, unable to parse
# string as an integer"); these say the same in plain words, with the rule's limits only.
_PLAIN: dict[str, str] = {
    "int_parsing": _NUMBER, "int_type": _NUMBER,
    "int_from_float": "must be a whole number, without decimals",
    "float_parsing": "must be a number, such as 2.5", "float_type": "must be a number",
    "bool_parsing": "must be yes or no (true or false)", "bool_type": "must be true or false",
    "greater_than_equal": "must be {ge} or more", "greater_than": "must be more than {gt}",
    "less_than_equal": "must be {le} or less", "less_than": "must be less than {lt}",
    "string_too_long": "must be at most {max_length} characters",
    "string_too_short": "must be at least {min_length} characters",
    "too_short": "needs at least {min_length} item(s)",
    "too_long": "may have at most {max_length} items",
    "missing": "is required", "string_type": "must be text",
    "enum": "must be one of {expected}", "literal_error": "must be one of {expected}",
    "string_pattern_mismatch": "is not in the expected form (see the API's field description)",
    "datetime_parsing": _WHEN, "datetime_from_date_parsing": _WHEN, "datetime_type": _WHEN,
    "date_parsing": "must be a date such as 2026-12-31", "date_type": "must be a date",
    "date_from_datetime_parsing": "must be a date such as 2026-12-31",
    "time_parsing": "must be a time such as 09:00", "time_type": "must be a time",
    "timezone_aware": "must include a time zone, such as Z or +01:00",
    "list_type": "must be a list", "dict_type": "must be an object with named fields",
    "model_type": "must be an object with named fields", "json_invalid": "is not valid JSON",
}


def message(item: ErrorDetails) -> str:
    """The problem in plain words, without any part of the value sent."""
    fixed = _FIXED.get(item["type"])
    if fixed is not None:
        return fixed
    plain = _PLAIN.get(item["type"])
    if plain is not None:
        try:
            return plain.format(**(item.get("ctx") or {}))
        except (KeyError, IndexError):
            pass
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
