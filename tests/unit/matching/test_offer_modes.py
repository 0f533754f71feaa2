"""Parallel offers and the person's choice, the person saying no, limits, and stall alerts."""

from __future__ import annotations

import dataclasses
import random
import uuid
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.case_model import MatchingPolicy
from services.matching.ledger import Ledger, Waiting
from services.matching.ranking import first_failed_rule
from shared.events import (
    HoldReleased,
    OfferMade,
    PlacementConfirmed,
    ReferralStalled,
    ReferralStatusChanged,
)
from shared.events.vocabulary import GenderIdentity, ServiceType, Urgency
from tests.support.matching_sim import Simulation
from tests.unit.matching.test_ranking import NOW, person, service

SHELTER = ServiceType.EMERGENCY_SHELTER
PARALLEL = MatchingPolicy(mode="parallel", parallel_offers=3)


def _shelters(count: int, places: int = 1) -> list:  # type: ignore[type-arg]
    return [service(SHELTER, "amsterdam", open_places=places) for _ in range(count)]


def test_parallel_mode_offers_the_best_k_at_once_and_the_person_chooses() -> None:
    network = _shelters(4)
    sim = Simulation(network, NOW, policy=PARALLEL)
    referral = uuid.uuid4()
    sim.submit(referral, person([SHELTER]))
    offers = sim.open_offers()
    assert len(offers) == 3, "K = 3 providers are asked at once"
    first, second, third = offers
    sim.accept(first)
    sim.accept(second)
    assert sim.statuses(referral)[-1] == "accepted", "two accepted: the person chooses"
    assert not [e for e in sim.published if isinstance(e, PlacementConfirmed)]
    sim.choose(second)
    assert sim.statuses(referral)[-1] == "placed"
    assert [c.outcome for c in sim.closed(second)] == ["accepted"]
    assert [(c.outcome, c.reason) for c in sim.closed(first)] == [
        ("withdrawn", "placed_elsewhere")]
    assert [(c.outcome, c.reason) for c in sim.closed(third)] == [
        ("withdrawn", "placed_elsewhere")]
    held = {sid: dict(ledger.holds) for sid, ledger in sim.ledgers.items() if ledger.holds}
    assert held == {}, "every other place is released"
    assert list(sim.ledgers[second.service_id].placements) == [second.offer_id]


def test_an_accepted_parallel_offer_withdrawn_by_a_lowering_leaves_the_choice_to_the_rest(
        ) -> None:
    sim = Simulation(_shelters(3), NOW, policy=PARALLEL)
    referral = uuid.uuid4()
    sim.submit(referral, person([SHELTER]))
    first, second, _ = sim.open_offers()
    sim.accept(first)
    sim.accept(second)
    sim.capacity(first.service_id, available=0, version=9)  # staff lower it under the hold
    assert [(c.outcome, c.reason) for c in sim.closed(first)] == [
        ("withdrawn", "capacity_lowered")]
    assert sim.ledgers[first.service_id].holds == {}
    assert sim.statuses(referral)[-1] == "accepted", "the person still chooses the other"
    sim.choose(second)
    assert sim.statuses(referral)[-1] == "placed"


def test_a_choice_not_made_in_time_releases_the_places_and_returns_the_referral() -> None:
    sim = Simulation(_shelters(2), NOW, policy=PARALLEL)
    referral = uuid.uuid4()
    sim.submit(referral, person([SHELTER]))
    offer = sim.open_offers()[0]
    sim.accept(offer)
    assert sim.tick(NOW + timedelta(hours=1)) == []
    sim.tick(NOW + PARALLEL.choice_ttl + timedelta(seconds=1))
    assert sim.statuses(referral)[-1] == "returned"
    assert sim.cases[referral].reason == "no_choice_in_time"
    assert all(not ledger.holds for ledger in sim.ledgers.values())
    sim.choose(offer)  # too late: nothing changes
    assert sim.statuses(referral)[-1] == "returned"


def test_a_choice_of_an_offer_that_was_not_accepted_changes_nothing() -> None:
    sim = Simulation(_shelters(3), NOW, policy=PARALLEL)
    referral = uuid.uuid4()
    sim.submit(referral, person([SHELTER]))
    accepted, open_one, _ = sim.open_offers()
    sim.accept(accepted)
    sim.choose(open_one)
    assert sim.statuses(referral)[-1] == "accepted"


def test_the_person_declining_a_place_releases_it_and_the_search_goes_on() -> None:
    first, second = service(SHELTER, "amsterdam", open_places=1, languages=["ro"]), \
        service(SHELTER, "utrecht", open_places=1)
    sim = Simulation([first, second], NOW)
    referral = uuid.uuid4()
    sim.submit(referral, person([SHELTER], languages=["ro"]))
    [offer] = sim.open_offers()
    sim.accept(offer)
    assert sim.statuses(referral)[-1] == "placed"
    sim.person_declines(offer)
    assert sim.ledgers[first.service.service_id].placements == {}
    assert sim.closed(offer)[-1].reason == "person_declined", "the provider is told"
    [next_offer] = sim.open_offers()
    assert next_offer.service_id == second.service.service_id
    assert "person_declined" in [
        e.reason for e in sim.published if getattr(e, "referral_id", None) == referral
        and type(e).__name__ == "ReferralStatusChanged"]


def test_a_new_acceptance_after_the_person_said_no_gets_a_fresh_time_to_choose() -> None:
    sim = Simulation(_shelters(4), NOW, policy=dataclasses.replace(PARALLEL, parallel_offers=1))
    referral = uuid.uuid4()
    sim.submit(referral, person([SHELTER]))
    [first] = sim.open_offers()
    sim.accept(first)
    sim.now = NOW + timedelta(hours=3)
    sim.person_declines(first)
    [second] = sim.open_offers()
    sim.accept(second)
    sim.tick(NOW + PARALLEL.choice_ttl + timedelta(minutes=1))  # past the first deadline
    assert sim.statuses(referral)[-1] == "accepted", "the clock restarted with the new yes"
    sim.choose(second)
    assert sim.statuses(referral)[-1] == "placed"


def test_no_longer_needed_ends_the_search() -> None:
    sim = Simulation(_shelters(2), NOW)
    referral = uuid.uuid4()
    sim.submit(referral, person([SHELTER]))
    [offer] = sim.open_offers()
    sim.accept(offer)
    sim.person_declines(offer, "no_longer_needed")
    assert sim.open_offers() == [] and sim.statuses(referral)[-1] == "returned"
    assert sim.cases[referral].reason == "person_declined"


def test_open_offers_per_referral_are_limited_across_needs() -> None:
    policy = dataclasses.replace(PARALLEL, parallel_offers=3, max_open_offers_per_referral=4)
    network = _shelters(4) + [service(ServiceType.LEGAL_AID, "amsterdam") for _ in range(4)]
    sim = Simulation(network, NOW, policy=policy)
    sim.submit(uuid.uuid4(), person([SHELTER, ServiceType.LEGAL_AID]))
    assert len(sim.open_offers()) == 4
    shelter_offer = next(o for o in sim.open_offers()
                         if o.service_id in {c.service.service_id for c in network[:4]})
    sim.decline(shelter_offer)
    assert len(sim.open_offers()) == 4, "a freed slot is used again"


def test_a_service_never_has_more_open_offers_than_its_limit() -> None:
    ledger = Ledger(available=10, hold_limit=2)
    answers = [ledger.request(Waiting(uuid.uuid4(), uuid.uuid4(), Urgency.TONIGHT, NOW),
                              join_waitlist=False)[0].outcome for _ in range(4)]
    assert answers == ["held", "held", "refused", "refused"]
    offer = next(iter(ledger.holds))
    ledger.place(offer, NOW)
    assert ledger.open_places == 1


def test_a_stalled_referral_raises_one_alert_per_stay() -> None:
    full = service(SHELTER, "amsterdam", open_places=0)
    sim = Simulation([full], NOW)
    referral = uuid.uuid4()
    sim.submit(referral, person([SHELTER]))
    assert sim.statuses(referral)[-1] == "waitlisted"
    assert sim.tick(NOW + timedelta(days=6)) == []
    assert sim.cases[referral].on_deadline(NOW + timedelta(days=6), sim.policy, "early") == []
    [alert] = sim.tick(NOW + timedelta(days=7, seconds=1))
    assert isinstance(alert, ReferralStalled) and alert.status.value == "waitlisted"
    assert sim.tick(NOW + timedelta(days=9)) == [], "one alert for this stay"
    assert sim.cases[referral].next_deadline(sim.policy) is None


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), referrals=st.integers(1, 20), places=st.integers(0, 4),
       k=st.integers(1, 4))
def test_parallel_properties_over_random_runs(seed: int, referrals: int, places: int,
                                              k: int) -> None:
    """In parallel mode too: only eligible providers, never more holds than places, and at
    most one placement per referral and need."""
    rng = random.Random(seed)
    network = [service(SHELTER, rng.choice(["amsterdam", "utrecht"]),
                       open_places=rng.randint(0, places),
                       genders=rng.choice([[], [GenderIdentity.WOMAN]]))
               for _ in range(rng.randint(1, 6))]
    sim = Simulation(network, NOW, policy=dataclasses.replace(PARALLEL, parallel_offers=k))
    profiles = {}
    for _ in range(referrals):
        referral = uuid.uuid4()
        profiles[referral] = person([SHELTER], gender_identity=rng.choice(
            [GenderIdentity.WOMAN, GenderIdentity.MAN]))
        sim.submit(referral, profiles[referral])
        for offer in sim.open_offers():
            rng.choice([sim.accept, sim.decline, sim.choose, lambda _: None])(offer)
        if rng.random() < 0.3:
            sim.tick(sim.now + timedelta(hours=rng.choice([1, 3, 5])))
    by_id = {c.service.service_id: c for c in network}
    for offer in (e for e in sim.published if isinstance(e, OfferMade)):
        assert first_failed_rule(profiles[offer.referral_id], by_id[offer.service_id]) in (
            None, "capacity")
    for ledger in sim.ledgers.values():
        assert len(ledger.holds) + len(ledger.placements) <= ledger.available
    placed = [e.referral_id for e in sim.published if isinstance(e, PlacementConfirmed)]
    released = {e.offer_id for e in sim.published if isinstance(e, HoldReleased)}
    kept = [e for e in sim.published if isinstance(e, PlacementConfirmed)
            and e.offer_id not in released]
    assert len({e.referral_id for e in kept}) == len(kept) and len(kept) <= len(placed)


def test_a_returned_referral_names_the_rule_that_excluded_most_services() -> None:
    men_only = [service(SHELTER, "amsterdam", genders=[GenderIdentity.MAN]) for _ in range(3)]
    romanian = service(SHELTER, "amsterdam", languages=["ro"])
    sim = Simulation([*men_only, romanian], NOW)
    referral = uuid.uuid4()
    sim.submit(referral, person([SHELTER], gender_identity=GenderIdentity.WOMAN,
                                languages=["nl"], accepts_waitlist=False))
    [returned] = [e for e in sim.published if isinstance(e, ReferralStatusChanged)
                  and e.referral_id == referral and e.status.value == "returned"]
    assert returned.excluded_by == "gender"
    assert all(not e.excluded_by for e in sim.published
               if isinstance(e, ReferralStatusChanged) and e.status.value != "returned")
