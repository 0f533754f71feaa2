"""What every Haven event is: a frozen, versioned pydantic model with a CloudEvents type.

The type name carries the version (`org.haven.referral.submitted.v1`); a new
version is a new class, and an upcaster turns stored old payloads into the new
shape so consumers only ever handle the newest one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from shared.topics import TopicSpec

TYPE_PREFIX = "org.haven."


class Event(BaseModel):
    """Base of every event: immutable, strict about unknown fields, routed by its class."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    topic: ClassVar[TopicSpec]

    def key(self) -> str:
        """The aggregate id that orders this event (and is the Kafka record key)."""
        raise NotImplementedError

    def subject(self) -> str:
        """The CloudEvents subject: the aggregate id, never anything personal."""
        return self.key()

    def destination(self) -> TopicSpec:
        """The topic this event is published to: its family's, unless it picks one of several."""
        return self.topic


EventT = TypeVar("EventT", bound=type[Event])
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_BY_TYPE: dict[str, type[Event]] = {}
_UPCASTERS: dict[str, tuple[str, Upcaster]] = {}


def register(cls: EventT) -> EventT:
    """Class decorator: make an event decodable by its type name."""
    name = cls.event_type
    if not name.startswith(TYPE_PREFIX) or ".v" not in name:
        raise ValueError(f"event type {name!r} must look like org.haven.<family>.<what>.vN")
    if name in _BY_TYPE:
        raise ValueError(f"event type {name!r} registered twice")
    _BY_TYPE[name] = cls
    return cls


def register_upcaster(old_type: str, new_type: str, upcast: Upcaster) -> None:
    """Teach consumers to read `old_type` payloads as `new_type`."""
    _UPCASTERS[old_type] = (new_type, upcast)


def resolve(event_type: str, payload: dict[str, Any]) -> tuple[type[Event], dict[str, Any]]:
    """Find the class for a type name, upcasting older versions; KeyError when unknown."""
    seen: set[str] = set()
    while event_type not in _BY_TYPE and event_type in _UPCASTERS and event_type not in seen:
        seen.add(event_type)
        event_type, upcast = _UPCASTERS[event_type]
        payload = upcast(payload)
    return _BY_TYPE[event_type], payload


def registered_types() -> dict[str, type[Event]]:
    """Every known event type, for the catalog docs and for tests."""
    return dict(_BY_TYPE)
