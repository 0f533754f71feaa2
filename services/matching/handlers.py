"""What matching does with each event: pure functions from an event to the events it causes."""

from __future__ import annotations

from datetime import datetime

from shared.events import ReferralStatusChanged, ReferralSubmitted
from shared.events.vocabulary import ReferralStatus


def acknowledge_referral(event: ReferralSubmitted, *, now: datetime) -> ReferralStatusChanged:
    """Tell intake the referral reached matching, so it is never silently in flight."""
    return ReferralStatusChanged(
        referral_id=event.referral_id, status=ReferralStatus.MATCHING,
        reason="received_by_matching", changed_at=now,
    )
