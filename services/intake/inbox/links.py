"""Where an inbox message may send its reader: pure, so the rule reads in one place."""

from __future__ import annotations

import uuid

from services.intake.models import Role


def link(role: Role, *, referral_id: uuid.UUID, own_referral: bool,
         offer_id: uuid.UUID | None) -> str | None:
    """The page about the message's subject that this reader may open, or None.

    Outreach workers open their own organization's referral; provider staff the offer
    made to their organization. Anything else would be a link to a 404 (or worse, a
    hint that an id exists), so there is no link.
    """
    if role is Role.OUTREACH_WORKER and own_referral:
        return f"/outreach/referrals/{referral_id}"
    if role is Role.PROVIDER_STAFF and offer_id is not None:
        return f"/provider/offers#offer-{offer_id}"
    return None
