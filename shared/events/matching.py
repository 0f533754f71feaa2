"""Matching's own traffic: holds asked of a service's single owner, and its answers.

Holds are keyed by service id, so one worker (the partition's owner) decides every
hold of a service in order: two workers never promise the same last place. The
answers travel back keyed by referral id to the worker that owns the referral.
None of these carry personal data: ids, codes, urgency and waiting time.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from shared import topics
from shared.events.base import Event, register
from shared.events.vocabulary import Urgency


@register
class HoldRequested(Event):
    """Hold one place for an offer; or, with `join_waitlist`, queue for the next one."""

    event_type: ClassVar[str] = "org.haven.capacity.hold_requested.v1"
    topic: ClassVar[topics.TopicSpec] = topics.CAPACITY_RESERVATIONS

    service_id: UUID
    referral_id: UUID
    offer_id: UUID
    urgency: Urgency
    waiting_since: datetime
    join_waitlist: bool = False
    requested_at: datetime

    def key(self) -> str:
        return str(self.service_id)


@register
class HoldReleased(Event):
    """The offer ended without a placement (or the referral left the waitlist)."""

    event_type: ClassVar[str] = "org.haven.capacity.hold_released.v1"
    topic: ClassVar[topics.TopicSpec] = topics.CAPACITY_RESERVATIONS

    service_id: UUID
    referral_id: UUID
    offer_id: UUID
    reason: str = Field(max_length=64, pattern=r"^[a-z0-9_]+$")
    released_at: datetime

    def key(self) -> str:
        return str(self.service_id)


@register
class PlacementConfirmed(Event):
    """The provider accepted: the hold becomes a place taken until staff count it themselves."""

    event_type: ClassVar[str] = "org.haven.capacity.placement_confirmed.v1"
    topic: ClassVar[topics.TopicSpec] = topics.CAPACITY_RESERVATIONS

    service_id: UUID
    referral_id: UUID
    offer_id: UUID
    placed_at: datetime

    def key(self) -> str:
        return str(self.service_id)


@register
class CapacityObserved(Event):
    """Staff's latest figure, handed to the service's owner in order with its holds."""

    event_type: ClassVar[str] = "org.haven.capacity.observed.v1"
    topic: ClassVar[topics.TopicSpec] = topics.CAPACITY_RESERVATIONS

    service_id: UUID
    available: int = Field(ge=0)
    version: int = Field(ge=0)
    confirmed_at: datetime
    counts_placements_through: int | None = Field(default=None, ge=0)

    def key(self) -> str:
        return str(self.service_id)


@register
class CapacityCounted(Event):
    """A service's ledger, counted for intake: places held for open offers, Haven's
    placements staff's figure does not count yet (by number), and the last number given,
    which staff's next figure states it counts (docs/matching.md, "One truth")."""

    event_type: ClassVar[str] = "org.haven.capacity.counted.v1"
    topic: ClassVar[topics.TopicSpec] = topics.CAPACITY_COUNTS

    service_id: UUID
    held: int = Field(ge=0)
    pending: list[int] = Field(default_factory=list, max_length=10_000)
    placements_through: int = Field(ge=0)
    waitlisted: int = Field(default=0, ge=0)
    figure_version: int = Field(ge=-1)
    revision: int = Field(ge=0)
    counted_at: datetime

    def key(self) -> str:
        return str(self.service_id)


@register
class HoldDecided(Event):
    """The service owner's answer: held, waitlisted, or refused (with the reason); or
    later, `withdrawn` (`capacity_lowered`) when staff lowered the figure under the hold."""

    event_type: ClassVar[str] = "org.haven.matching.hold_decided.v1"
    topic: ClassVar[topics.TopicSpec] = topics.MATCHING_COMMANDS

    referral_id: UUID
    service_id: UUID
    offer_id: UUID
    outcome: Literal["held", "waitlisted", "refused", "withdrawn"]
    reason: str = Field(default="", max_length=64, pattern=r"^[a-z0-9_]*$")
    decided_at: datetime

    def key(self) -> str:
        return str(self.referral_id)


@register
class OfferTimedOut(Event):
    """An offer reached its expiry without an answer (sent by the referral owner's timer)."""

    event_type: ClassVar[str] = "org.haven.matching.offer_timed_out.v1"
    topic: ClassVar[topics.TopicSpec] = topics.MATCHING_COMMANDS

    referral_id: UUID
    offer_id: UUID
    at: datetime

    def key(self) -> str:
        return str(self.referral_id)


@register
class DeadlineReached(Event):
    """Something in a referral's case is due (an offer's expiry, the person's choice, a
    stall alert); sent by the referral owner's timer, idempotent by the case's state."""

    event_type: ClassVar[str] = "org.haven.matching.deadline_reached.v1"
    topic: ClassVar[topics.TopicSpec] = topics.MATCHING_COMMANDS

    referral_id: UUID
    due_at: datetime
    at: datetime

    def key(self) -> str:
        return str(self.referral_id)
