"""A matching worker in parallel mode on the real broker: offers to the best K at once, two
providers accept, the person chooses one, the other places are released; a referral left on a
waiting list too long raises a stall alert, and is offered the place that opens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from shared.events import (
    OfferAccepted,
    OfferClosed,
    OfferMade,
    PlacementChosen,
    ReferralStalled,
    ReferralStatusChanged,
)
from shared.events.vocabulary import ServiceType
from shared.topics import REFERRAL_OFFERS, REFERRAL_STATUS
from tests.support.matching_run import MatchingRun

pytestmark = pytest.mark.slow


def _about(referral: uuid.UUID, kind: type) -> object:
    return lambda events: [e for e in events if isinstance(e, kind)
                           and e.referral_id == referral]


def test_parallel_offers_the_person_chooses_and_a_stalled_referral_alerts(
        run: MatchingRun) -> None:
    run.start_worker("a", offer_mode="parallel", parallel_offers="3",
                     stall_hours_waitlisted="0.001")  # 3.6 seconds on a waiting list
    shelters = run.publish_directory([1, 1, 1, 1])
    [legal_aid] = run.publish_directory([0], kind=ServiceType.LEGAL_AID)
    [referral] = run.submit(1)
    [waiting] = run.submit(1, need=ServiceType.LEGAL_AID)

    offers = [e for e in run.opened(REFERRAL_OFFERS.name, lambda got: len(
        [e for e in got if isinstance(e, OfferMade) and e.referral_id == referral]) >= 3)
        if isinstance(e, OfferMade) and e.referral_id == referral]
    assert len(offers) == 3 and {o.service_id for o in offers} <= set(shelters)
    first, second, third = offers
    now = datetime.now(UTC)
    run.answer(*(OfferAccepted(offer_id=o.offer_id, referral_id=referral,
                               organization_id=o.organization_id, answered_at=now)
                 for o in (first, second)))
    accepted = [e for e in run.opened(REFERRAL_STATUS.name, lambda got: any(
        isinstance(e, ReferralStatusChanged) and e.referral_id == referral
        and e.status.value == "accepted" for e in got)) if isinstance(e, ReferralStatusChanged)
        and e.referral_id == referral and e.status.value == "accepted"]
    assert accepted, "two providers accepted: the person's choice is awaited"
    run.answer(PlacementChosen(offer_id=second.offer_id, referral_id=referral,
                               chosen_at=datetime.now(UTC)))
    assert run.statuses([referral], timeout_s=60)[referral][-1].status.value == "placed"

    closed = {e.offer_id: e for e in run.opened(REFERRAL_OFFERS.name, lambda got: len(
        [e for e in got if isinstance(e, OfferClosed) and e.referral_id == referral]) >= 3)
        if isinstance(e, OfferClosed) and e.referral_id == referral}
    assert closed[second.offer_id].outcome == "accepted"
    assert (closed[first.offer_id].outcome, closed[first.offer_id].reason) == (
        "withdrawn", "placed_elsewhere")
    assert closed[third.offer_id].outcome == "withdrawn"

    alerts = [e for e in run.opened(REFERRAL_STATUS.name, _about(waiting, ReferralStalled))
              if isinstance(e, ReferralStalled) and e.referral_id == waiting]
    assert [a.status.value for a in alerts] == ["waitlisted"]

    run.set_capacity(legal_aid, available=1, version=2)  # a place opens: the waitlist moves
    moved = [e for e in run.opened(REFERRAL_OFFERS.name, _about(waiting, OfferMade))
             if isinstance(e, OfferMade) and e.referral_id == waiting]
    assert [o.service_id for o in moved] == [legal_aid]
