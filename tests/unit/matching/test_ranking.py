"""Ranking: the scenario table from the domain brief, and properties over random networks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.ranking import Candidate, Network, distance_km, first_failed_rule, rank
from shared.events import CapacityUpdated, Eligibility, MatchingProfile, ServiceUpserted
from shared.events.vocabulary import ExploitationType, GenderIdentity, ServiceType, Urgency

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
CITIES = {"amsterdam": (52.37, 4.90), "rotterdam": (51.92, 4.48), "utrecht": (52.09, 5.12),
          "groningen": (53.22, 6.57), "antwerp": (51.22, 4.40)}


def service(kind: ServiceType, city: str, *, open_places: int = 2, **rules: object) -> Candidate:
    lat, lon = CITIES[city]
    offered = ServiceUpserted(service_id=uuid.uuid4(), organization_id=uuid.uuid4(),
                              service_type=kind, region=city, latitude=lat, longitude=lon,
                              eligibility=Eligibility.model_validate(rules))
    capacity = CapacityUpdated(service_id=offered.service_id, available=open_places,
                               maximum=max(open_places, 4), confirmed_at=NOW)
    return Candidate(offered, capacity)


def person(needs: list[ServiceType], city: str = "amsterdam", **facts: object) -> MatchingProfile:
    lat, lon = CITIES[city]
    base: dict[str, object] = {"needs": needs, "urgency": Urgency.TONIGHT, "age_min": 30,
                               "age_max": 30, "region": city, "approximate_latitude": lat,
                               "approximate_longitude": lon}
    return MatchingProfile.model_validate(base | facts)


def test_woman_with_two_children_romanian_only_avoiding_a_region() -> None:
    women = [GenderIdentity.WOMAN]
    fits = service(ServiceType.EMERGENCY_SHELTER, "utrecht", genders=women,
                   dependents_allowed=True, languages=["ro", "nl"])
    no_children = service(ServiceType.EMERGENCY_SHELTER, "amsterdam", genders=women,
                          languages=["ro"])
    dutch_only = service(ServiceType.EMERGENCY_SHELTER, "amsterdam", genders=women,
                         dependents_allowed=True, languages=["nl"])
    in_avoided = service(ServiceType.EMERGENCY_SHELTER, "rotterdam", genders=women,
                         dependents_allowed=True, languages=["ro"])
    profile = person([ServiceType.EMERGENCY_SHELTER], gender_identity=GenderIdentity.WOMAN,
                     dependents=2, languages=["ro"], avoid_regions=["rotterdam"])
    result = rank(profile, [fits, no_children, dutch_only, in_avoided], now=NOW)
    assert [r.service_id for r in result.offers] == [fits.service.service_id]
    assert {r.rule for r in result.rejected} == {"dependents", "language", "area_to_avoid"}
    assert any(line.startswith("language_fit") for line in result.offers[0].explanation)


def test_sixteen_year_old_only_gets_services_for_minors() -> None:
    minors = service(ServiceType.CHILD_SERVICES, "amsterdam", age_min=12, age_max=17)
    adults = service(ServiceType.CHILD_SERVICES, "amsterdam", age_min=18, age_max=120)
    result = rank(person([ServiceType.CHILD_SERVICES], age_min=16, age_max=16),
                  [adults, minors], now=NOW)
    assert [r.service_id for r in result.offers] == [minors.service.service_id]
    assert [r.rule for r in result.rejected] == ["age"]


def test_man_in_labour_trafficking_needing_immigration_legal_aid() -> None:
    labour = service(ServiceType.IMMIGRATION_LEGAL_AID, "utrecht",
                     exploitation_types=[ExploitationType.LABOUR])
    sexual_only = service(ServiceType.IMMIGRATION_LEGAL_AID, "amsterdam",
                          exploitation_types=[ExploitationType.SEXUAL])
    general_legal = service(ServiceType.LEGAL_AID, "amsterdam")
    profile = person([ServiceType.IMMIGRATION_LEGAL_AID], gender_identity=GenderIdentity.MAN,
                     exploitation_types=[ExploitationType.LABOUR])
    result = rank(profile, [labour, sexual_only, general_legal], now=NOW)
    assert [r.service_id for r in result.offers] == [labour.service.service_id]
    assert sorted(r.rule for r in result.rejected) == ["exploitation_type", "service_type"]


def test_transgender_woman_only_gets_affirming_services() -> None:
    affirming = service(ServiceType.EMERGENCY_SHELTER, "amsterdam",
                        genders=[GenderIdentity.WOMAN, GenderIdentity.TRANSGENDER_WOMAN])
    cis_only = service(ServiceType.EMERGENCY_SHELTER, "amsterdam", genders=[GenderIdentity.WOMAN])
    profile = person([ServiceType.EMERGENCY_SHELTER],
                     gender_identity=GenderIdentity.TRANSGENDER_WOMAN)
    result = rank(profile, [cis_only, affirming], now=NOW)
    assert [r.service_id for r in result.offers] == [affirming.service.service_id]
    assert [r.rule for r in result.rejected] == ["gender"]


def test_nobody_available_means_waitlist_until_a_place_opens() -> None:
    full = service(ServiceType.LONG_TERM_RESIDENTIAL, "groningen", open_places=0)
    profile = person([ServiceType.LONG_TERM_RESIDENTIAL], max_distance_km=400)
    [waiting] = rank(profile, [full], now=NOW).offers
    assert waiting.waitlist
    refusing = profile.model_copy(update={"accepts_waitlist": False})
    assert [r.rule for r in rank(refusing, [full], now=NOW).rejected] == ["capacity"]
    assert full.capacity is not None
    opened = Candidate(full.service, full.capacity.model_copy(update={"available": 1}))
    [offered] = rank(profile, [opened], now=NOW).offers
    assert not offered.waitlist


def test_distance_and_staleness_count() -> None:
    near = service(ServiceType.MEDICAL, "utrecht")
    far = service(ServiceType.MEDICAL, "groningen")
    profile = person([ServiceType.MEDICAL], max_distance_km=100)
    result = rank(profile, [far, near], now=NOW)
    assert [r.service_id for r in result.offers] == [near.service.service_id]
    assert [r.rule for r in result.rejected] == ["distance"]
    assert 30 < distance_km(CITIES["amsterdam"], CITIES["utrecht"]) < 40
    assert near.capacity is not None
    stale = Candidate(near.service, near.capacity.model_copy(
        update={"confirmed_at": NOW - timedelta(days=3)}))
    assert rank(profile, [stale], now=NOW).offers[0].score < result.offers[0].score


services_strategy = st.builds(
    lambda kind, city, places, lo, span, kids, langs, genders: service(
        kind, city, open_places=places, age_min=lo, age_max=min(120, lo + span),
        dependents_allowed=kids, languages=langs, genders=genders),
    st.sampled_from(list(ServiceType)[:4]), st.sampled_from(sorted(CITIES)),
    st.integers(0, 3), st.integers(0, 40), st.integers(0, 80), st.booleans(),
    st.lists(st.sampled_from(["en", "nl", "ro", "es"]), max_size=2, unique=True),
    st.lists(st.sampled_from(list(GenderIdentity)[:5]), max_size=3, unique=True))
profiles_strategy = st.builds(
    lambda needs, city, age, kids, langs, gender, waitlist: person(
        needs, city, age_min=age, age_max=age, dependents=kids, languages=langs,
        gender_identity=gender, accepts_waitlist=waitlist, max_distance_km=200),
    st.lists(st.sampled_from(list(ServiceType)[:4]), min_size=1, max_size=2, unique=True),
    st.sampled_from(sorted(CITIES)), st.integers(10, 80), st.integers(0, 3),
    st.lists(st.sampled_from(["en", "nl", "ro", "es"]), max_size=2, unique=True),
    st.sampled_from(list(GenderIdentity)), st.booleans())


@settings(max_examples=200, deadline=None)
@given(profile=profiles_strategy, network=st.lists(services_strategy, max_size=12))
def test_never_an_ineligible_offer_and_every_decision_explained(
    profile: MatchingProfile, network: list[Candidate]
) -> None:
    result = rank(profile, network, now=NOW)
    assert len(result.offers) + len(result.rejected) == len(network)
    by_id = {c.service.service_id: c for c in network}
    for offer in result.offers:
        candidate = by_id[offer.service_id]
        rules = candidate.service.eligibility
        assert candidate.service.service_type in profile.needs
        assert rules.age_min <= profile.age_min <= profile.age_max <= rules.age_max
        assert profile.dependents == 0 or rules.dependents_allowed
        assert not rules.genders or profile.gender_identity in rules.genders
        assert candidate.open_places > 0 or profile.accepts_waitlist
        assert offer.explanation and offer.explanation[0] == "met every eligibility rule"
    for rejection in result.rejected:
        assert first_failed_rule(profile, by_id[rejection.service_id]) == rejection.rule
    waitlisted = [o.waitlist for o in result.offers]
    assert waitlisted == sorted(waitlisted), "open places always come before waiting lists"
    indexed = rank(profile, Network(network), now=NOW)
    assert indexed.offers == result.offers, "the index changes speed, never the answer"
    assert indexed.other_service_types == sum(r.rule == "service_type" for r in result.rejected)
