"""What a case is made of: the network's policy, offers and needs (plain data, no behaviour).

Kept apart from `cases.py` so the rules there read without the bookkeeping; both are
pure, and these values are what the `cases` table stores (services/matching/state.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from shared.events.vocabulary import ReferralStatus, ServiceType, Urgency

OfferStatus = Literal["requested", "waitlisted", "offered", "accepted", "placed", "declined",
                      "expired", "withdrawn", "refused", "released", "person_declined"]
NeedState = Literal["searching", "queued", "offered", "choosing", "placed", "unmet"]
LIVE: frozenset[str] = frozenset({"requested", "waitlisted", "offered"})
HOLDING: frozenset[str] = LIVE | {"accepted"}        # still holds a place or a queue spot
COUNTED: frozenset[str] = frozenset({"requested", "offered", "accepted"})  # open offers
RETURN_REASONS = frozenset({"no_choice_in_time", "person_declined"})
APPLIED_MEMORY = 500


def _default_stall_after() -> dict[ReferralStatus, timedelta]:
    return {ReferralStatus.MATCHING: timedelta(minutes=15),
            ReferralStatus.OFFERED: timedelta(hours=24),
            ReferralStatus.WAITLISTED: timedelta(days=7)}


@dataclass(frozen=True)
class MatchingPolicy:
    """What the network decides (HAVEN_MATCHING_* settings): how long offers stay open, etc."""

    offer_ttl: dict[Urgency, timedelta] = field(default_factory=lambda: {
        Urgency.TONIGHT: timedelta(hours=2), Urgency.WITHIN_DAYS: timedelta(hours=24),
        Urgency.PLANNED: timedelta(hours=72)})
    waitlist_breadth: int = 3
    max_attempts_per_need: int = 20
    mode: Literal["sequential", "parallel"] = "sequential"
    parallel_offers: int = 3                 # K: providers asked at once in parallel mode
    max_open_offers_per_referral: int = 6    # requested + offered + accepted, all needs
    choice_ttl: timedelta = timedelta(hours=4)
    stall_after: dict[ReferralStatus, timedelta] = field(default_factory=_default_stall_after)
    # A settled case (placed, returned, withdrawn, erased; holding nothing) is kept this long
    # for late answers and a person declining a placement, then forgotten.
    keep_settled: timedelta = timedelta(days=30)


@dataclass
class Offer:
    offer_id: uuid.UUID
    need: ServiceType
    service_id: uuid.UUID
    organization_id: uuid.UUID
    rank: int
    explanation: list[str]
    status: OfferStatus = "requested"
    expires_at: datetime | None = None
    queued: bool = False  # asked to join the waiting list rather than for an open place


@dataclass
class Need:
    need: ServiceType
    candidates: list[dict[str, Any]]  # service_id, organization_id, waitlist, explanation
    next_index: int = 0
    state: NeedState = "searching"
    choose_by: datetime | None = None  # parallel mode: the person's choice is due
