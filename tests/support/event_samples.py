"""One valid instance of every registered event type, for tests that must cover them all.

Required fields are filled from their type (ids, times, the first member of an enum,
nested models recursively); the few whose constraints a type cannot tell are named
in OVERRIDES. A new event type is covered without touching this file unless it adds
such a field.
"""

from __future__ import annotations

import enum
import types
import typing
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from shared.events import Event, registered_types

NOW = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
OVERRIDES: dict[str, object] = {
    "region": "noord-holland", "latitude": 52.37, "longitude": 4.89, "timezone": "UTC",
    "hours_start": "09:00", "hours_end": "17:00", "address": "+31000000000",
    "name": "Sample", "title": "Sample title", "body": "Sample body", "age_min": 18,
    "age_max": 65, "channel": "sms", "notification_id": "n-0000000001", "language": "en",
    "needs": ["medical"],
}


def _value(name: str, annotation: Any) -> object:
    if name in OVERRIDES:
        return OVERRIDES[name]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _value(name, options[0])
    if origin is typing.Literal:
        return typing.get_args(annotation)[0]
    if origin in (list, tuple, set, frozenset):
        return []
    if origin is typing.Annotated:
        return _value(name, typing.get_args(annotation)[0])
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return next(iter(annotation)).value
        if issubclass(annotation, BaseModel):
            return _fields(annotation)
        simple: dict[type, object] = {uuid.UUID: str(uuid.uuid4()), datetime: NOW.isoformat(),
                                      bool: True, int: 1, float: 1.0, str: "sample"}
        for kind, value in simple.items():
            if issubclass(annotation, kind):
                return value
    raise TypeError(f"no sample for {name}: {annotation!r}")


def _fields(model: type[BaseModel]) -> dict[str, object]:
    return {name: _value(name, info.annotation) for name, info in model.model_fields.items()
            if info.is_required()}


def sample(cls: type[Event]) -> Event:
    """A valid event of this type, with fresh ids."""
    return cls.model_validate(_fields(cls))


def every_event() -> list[Event]:
    """One sample per registered event type, in a stable order."""
    return [sample(cls) for _, cls in sorted(registered_types().items())]
