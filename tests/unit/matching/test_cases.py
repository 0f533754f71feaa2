"""A referral from ranking to placement, through holds, declines, expiry and the waitlist."""

from __future__ import annotations

import uuid
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.cases import Case
from services.matching.ranking import first_failed_rule
from services.matching.state import dump_case, load_case
from shared.events import ErasureApplied, OfferClosed, OfferMade, PlacementConfirmed
from shared.events.vocabulary import GenderIdentity, ReferralStatus, ServiceType
from shared.recipients import SEALED_TYPES
from tests.support.matching_sim import Simulation
from tests.unit.matching.test_ranking import NOW, person, service

SHELTER = ServiceType.EMERGENCY_SHELTER


def test_decline_moves_to_the_next_candidate_and_accept_places() -> None:
    first = service(SHELTER, "amsterdam", open_places=1, languages=["ro"])
    second = service(SHELTER, "utrecht", open_places=1)
    sim = Simulation([first, second], NOW)
    referral = uuid.uuid4()
    sim.submit(referral, person([SHELTER], languages=["ro"]))
    [offer] = sim.open_offers()
    assert offer.service_id == first.service.service_id and offer.explanation
    sim.decline(offer)
    [offer] = sim.open_offers()
    assert offer.service_id == second.service.service_id
    sim.accept(offer)
    assert sim.statuses(referral)[-1] == "placed"
    assert sim.ledgers[first.service.service_id].holds == {}
    assert [e for e in sim.published if isinstance(e, PlacementConfirmed)]


def test_nobody_available_then_a_place_opens_and_is_offered() -> None:
    full = service(SHELTER, "amsterdam", open_places=0)
    sim = Simulation([full], NOW)
    referral = uuid.uuid4()
    sim.submit(referral, person([SHELTER]))
    assert sim.statuses(referral)[-1] == "waitlisted" and sim.open_offers() == []
    sim.capacity(full.service.service_id, available=1, version=5)
    [offer] = sim.open_offers()
    assert offer.referral_id == referral and sim.statuses(referral)[-1] == "offered"


def test_an_unanswered_offer_expires_and_the_next_provider_is_asked() -> None:
    first = service(SHELTER, "amsterdam", open_places=1, languages=["en"])
    second = service(SHELTER, "utrecht", open_places=1)
    sim = Simulation([first, second], NOW)
    sim.submit(uuid.uuid4(), person([SHELTER], languages=["en"]))
    [offer] = sim.open_offers()
    sim.expire(NOW + timedelta(hours=1))
    assert sim.open_offers() == [offer]  # urgent offers stay open two hours
    sim.expire(NOW + timedelta(hours=2, seconds=1))
    [later] = sim.open_offers()
    assert later.service_id == second.service.service_id


def test_a_figure_lowered_under_an_offer_withdraws_it_and_asks_the_next() -> None:
    first = service(SHELTER, "amsterdam", open_places=2, languages=["ro"])
    second = service(SHELTER, "utrecht", open_places=1)
    sim = Simulation([first, second], NOW)
    early, late = uuid.uuid4(), uuid.uuid4()
    sim.submit(early, person([SHELTER], languages=["ro"]))
    sim.submit(late, person([SHELTER], languages=["ro"]))
    assert {o.service_id for o in sim.open_offers()} == {first.service.service_id}
    sim.capacity(first.service.service_id, available=1, version=9)
    [closed] = [e for e in sim.published if isinstance(e, OfferClosed)]
    assert (closed.referral_id, closed.outcome, closed.reason) == (
        late, "withdrawn", "capacity_lowered"), "the newest hold goes"
    assert sim.statuses(late)[-2:] == ["matching", "offered"]
    [moved] = [o for o in sim.open_offers() if o.referral_id == late]
    assert moved.service_id == second.service.service_id
    assert len(sim.ledgers[first.service.service_id].holds) == 1


def test_withdrawal_releases_every_hold_and_offer() -> None:
    places = service(SHELTER, "amsterdam", open_places=1)
    sim = Simulation([places], NOW)
    referral = uuid.uuid4()
    sim.submit(referral, person([SHELTER]))
    sim._run(sim.cases[referral].withdraw(ReferralStatus.WITHDRAWN, "consent_withdrawn",
                                          NOW, "revoked-1"))
    assert sim.open_offers() == [] and sim.ledgers[places.service.service_id].holds == {}
    assert sim.statuses(referral)[-1] == "withdrawn"
    assert sim.cases[referral].withdraw(ReferralStatus.WITHDRAWN, "again", NOW, "x") == []


def test_erasure_closes_every_offer_and_hold_with_ids_only() -> None:
    """Issue 19, defect 1: what matching sends after an erasure must be readable without the
    referral's keys (they are being destroyed), or intake and the notifier dead-letter it
    and the provider's offer stays open."""
    offered, queued = (service(SHELTER, "amsterdam", open_places=1),
                       service(ServiceType.LEGAL_AID, "utrecht", open_places=0))
    sim = Simulation([offered, queued], NOW)
    referral = uuid.uuid4()
    sim.submit(referral, person([SHELTER, ServiceType.LEGAL_AID]))
    [offer] = sim.open_offers()
    before = len(sim.published)
    events = sim.cases[referral].erase(NOW, "erased-1")
    sim._run(events)
    assert [e.event_type for e in events if e.event_type in SEALED_TYPES] == []
    [applied] = [e for e in events if isinstance(e, ErasureApplied)]
    assert [w.offer_id for w in applied.withdrawn] == [offer.offer_id]
    assert applied.released_holds == 2  # the offered place and the waiting-list spot
    assert sim.ledgers[offered.service.service_id].holds == {}
    assert all(not ledger.holds and not ledger.waitlist for ledger in sim.ledgers.values())
    assert not [e for e in sim.published[before:] if isinstance(e, OfferMade)]
    assert sim.cases[referral].status is ReferralStatus.ERASED
    assert sim.cases[referral].erase(NOW, "erased-2") == []  # a repeat changes nothing


def test_an_erasure_that_overtakes_its_submission_leaves_a_closed_case() -> None:
    referral = uuid.uuid4()
    case = Case.erased_before_opened(referral, NOW)
    [applied] = case.erase(NOW, "erased-1")
    assert isinstance(applied, ErasureApplied) and applied.withdrawn == []
    assert case.closed and load_case(dump_case(case)).status is ReferralStatus.ERASED


def test_redelivered_inputs_change_nothing() -> None:
    places = service(SHELTER, "amsterdam", open_places=2)
    sim = Simulation([places], NOW)
    referral = uuid.uuid4()
    sim.submit(referral, person([SHELTER]))
    [offer] = sim.open_offers()
    case = sim.cases[referral]
    assert case.on_accepted(offer.offer_id, offer.organization_id, NOW, sim.policy, "answer-1")
    assert case.on_accepted(offer.offer_id, offer.organization_id, NOW, sim.policy,
                            "answer-1") == []
    assert case.on_declined(offer.offer_id, offer.organization_id, "other", NOW, sim.policy,
                            "answer-2") == []  # too late: it was accepted
    assert load_case(dump_case(case)) == case


def test_a_transgender_woman_is_only_offered_affirming_services() -> None:
    affirming = service(SHELTER, "amsterdam", genders=[GenderIdentity.WOMAN,
                                                       GenderIdentity.TRANSGENDER_WOMAN])
    not_affirming = service(SHELTER, "amsterdam", genders=[GenderIdentity.WOMAN])
    sim = Simulation([not_affirming, affirming], NOW)
    sim.submit(uuid.uuid4(), person([SHELTER],
                                    gender_identity=GenderIdentity.TRANSGENDER_WOMAN))
    assert [o.service_id for o in sim.open_offers()] == [affirming.service.service_id]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), referrals=st.integers(1, 25), places=st.integers(0, 6))
def test_properties_over_random_runs(seed: int, referrals: int, places: int) -> None:
    """Offers only go to eligible services; holds never exceed places; all decisions logged."""
    import random

    rng = random.Random(seed)
    network = [service(SHELTER, rng.choice(["amsterdam", "utrecht"]),
                       open_places=rng.randint(0, places),
                       genders=rng.choice([[], [GenderIdentity.WOMAN]]),
                       languages=rng.choice([[], ["ro"], ["nl", "en"]]))
               for _ in range(rng.randint(1, 5))]
    sim = Simulation(network, NOW)
    profiles = {}
    for _ in range(referrals):
        referral = uuid.uuid4()
        profiles[referral] = person([SHELTER], gender_identity=rng.choice(
            [GenderIdentity.WOMAN, GenderIdentity.MAN]), languages=rng.choice([["ro"], ["en"]]))
        sim.submit(referral, profiles[referral])
        for offer in sim.open_offers():
            rng.choice([sim.accept, sim.decline, lambda _: None])(offer)
    by_id = {c.service.service_id: c for c in network}
    for offer in (e for e in sim.published if isinstance(e, OfferMade)):
        assert first_failed_rule(profiles[offer.referral_id], by_id[offer.service_id]) in (
            None, "capacity")
        assert offer.explanation and offer.explanation[0] == "met every eligibility rule"
    for ledger in sim.ledgers.values():  # nobody lowers a figure here, so this holds always
        assert len(ledger.holds) + len(ledger.placements) <= ledger.available
    for case in sim.cases.values():
        assert isinstance(case, Case) and case.status in set(ReferralStatus)
        assert sim.statuses(case.referral_id), "every referral has a recorded decision"


def test_a_settled_case_is_forgotten_after_the_retention_and_not_before() -> None:
    places = service(SHELTER, "amsterdam", open_places=1)
    sim = Simulation([places], NOW)
    placed, open_, withdrawn = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    sim.submit(placed, person([SHELTER]))
    [offer] = sim.open_offers()
    sim.accept(offer)
    sim.submit(open_, person([SHELTER]))  # no place left: waitlisted, still waiting
    sim.submit(withdrawn, person([SHELTER]))
    sim._run(sim.cases[withdrawn].withdraw(ReferralStatus.WITHDRAWN, "consent_withdrawn",
                                           NOW, "revoked-1"))
    keep = sim.policy.keep_settled
    assert sim.statuses(placed)[-1] == "placed"
    for referral in (placed, withdrawn):
        case = sim.cases[referral]
        assert case.next_deadline(sim.policy) == NOW + keep  # the timer comes back for it
        assert not case.forgettable(NOW + keep - timedelta(seconds=1), sim.policy)
        assert case.forgettable(NOW + keep, sim.policy)
    waiting = sim.cases[open_]
    assert sim.statuses(open_)[-1] == "waitlisted"
    assert not waiting.forgettable(NOW + 10 * keep, sim.policy), "it still holds a queue spot"
