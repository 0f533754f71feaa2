"""Where an inbox message may point: only to a page its reader is allowed to open."""

from __future__ import annotations

import uuid

import pytest

from services.intake.inbox.links import link
from services.intake.models import Role

REFERRAL = uuid.UUID("22222222-0000-0000-0000-000000000002")
OFFER = uuid.UUID("33333333-0000-0000-0000-000000000003")


@pytest.mark.parametrize(("role", "own", "offer", "expected"), [
    (Role.OUTREACH_WORKER, True, None, f"/outreach/referrals/{REFERRAL}"),
    (Role.OUTREACH_WORKER, True, OFFER, f"/outreach/referrals/{REFERRAL}"),
    (Role.OUTREACH_WORKER, False, OFFER, None),  # someone else's referral: no hint it exists
    (Role.PROVIDER_STAFF, False, OFFER, f"/provider/offers#offer-{OFFER}"),
    (Role.PROVIDER_STAFF, True, None, None),  # staff never open referral pages
    (Role.PROVIDER_STAFF, False, None, None),
    (Role.NETWORK_ADMIN, True, OFFER, None),
])
def test_link_only_to_pages_the_reader_may_open(role: Role, own: bool, offer: uuid.UUID | None,
                                                expected: str | None) -> None:
    assert link(role, referral_id=REFERRAL, own_referral=own, offer_id=offer) == expected
