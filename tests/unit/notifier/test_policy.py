"""Who hears what: the consent matrix, staff messages, and the gate right before sending."""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifier.model import (
    ContactHours,
    Endpoints,
    ReferralFacts,
    SurvivorConsent,
    SurvivorTerms,
    notification_id,
)
from services.notifier.policy import (
    OfferFacts,
    OutreachTold,
    gate,
    plan_capacity_reminder,
    plan_offer,
    plan_status,
)
from services.notifier.rendering import STAFF_FIELDS, SURVIVOR_FIELDS

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # 13:00 in Amsterdam: inside 09-20
REFERRAL = str(uuid.UUID(int=7))
OUTREACH = Endpoints("outreach-1", "CANARY-ORG-Outreach", email="team@example.invalid",
                     webhook_url="http://127.0.0.1:1/hook")
PROVIDER = Endpoints("provider-1", "CANARY-ORG-Shelter", language="es",
                     email="staff@example.invalid")
DIRECTORY = {e.organization_id: e for e in (OUTREACH, PROVIDER)}
FACTS = ReferralFacts(REFERRAL, "outreach-1", "tonight", ("emergency_shelter", "medical"))
HOURS = ContactHours(time(9), time(20), "Europe/Amsterdam")


def consent(*, granted: bool = True, expired: bool = False, with_terms: bool = True,
            channel: str = "sms", may_name: bool = False, cover: str | None = None,
            language: str = "nl") -> SurvivorConsent:
    terms = SurvivorTerms(channel=channel, hours=HOURS, language=language,  # type: ignore[arg-type]
                          may_name_organization=may_name, cover_story=cover)
    base = SurvivorConsent(granted=granted,
                           expires_at=NOW - timedelta(minutes=1) if expired else None,
                           terms=terms if with_terms else None)
    return base


def survivor_messages(status: str, given: SurvivorConsent) -> list:  # type: ignore[type-arg]
    planned = plan_status(cause_id="cause-1", referral_id=REFERRAL, status=status,
                          reason="provider_accepted", facts=FACTS, consent=given,
                          directory=DIRECTORY, now=NOW)
    return [p for p in planned if p.audience == "survivor"]


MATRIX = list(itertools.product([True, False], [True, False], [True, False],
                                ["sms", "email", "phone_call"], [True, False], [None, "Aunt May"]))


@pytest.mark.parametrize(("granted", "expired", "with_terms", "channel", "may_name", "cover"),
                         MATRIX)
def test_consent_matrix(granted: bool, expired: bool, with_terms: bool, channel: str,
                        may_name: bool, cover: str | None) -> None:
    given_consent = consent(granted=granted, expired=expired, with_terms=with_terms,
                            channel=channel, may_name=may_name, cover=cover)
    sent = survivor_messages("placed", given_consent)
    allowed = granted and not expired and with_terms and channel != "phone_call"
    assert len(sent) == (1 if allowed else 0)
    for message in sent:
        assert message.channel == channel
        assert message.language == "nl"
        assert set(message.fields) <= SURVIVOR_FIELDS
        assert ("organization" in message.fields) == may_name
        assert message.fields.get("sender") == cover
        assert gate(message, given_consent, NOW).action == "send"
    # Bad news never reaches the person: only "something is ready" does.
    for status in ("offered", "waitlisted", "returned", "matching"):
        assert survivor_messages(status, given_consent) == []


def test_nothing_to_a_survivor_without_contact_consent_whatever_happens() -> None:
    for status in ("offered", "placed", "waitlisted", "returned"):
        assert survivor_messages(status, SurvivorConsent()) == []


def test_a_message_due_at_three_in_the_morning_is_held_until_allowed_hours() -> None:
    three_am = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 03:00 Amsterdam
    given_consent = consent()
    [message] = [p for p in plan_status(
        cause_id="c", referral_id=REFERRAL, status="placed", reason="provider_accepted",
        facts=FACTS, consent=given_consent, directory=DIRECTORY, now=three_am)
        if p.audience == "survivor"]
    nine = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    assert message.not_before == nine
    verdict = gate(message, given_consent, three_am)
    assert (verdict.action, verdict.until) == ("hold", nine)
    assert gate(message, given_consent, nine).action == "send"


def test_revocation_or_expiry_cancels_what_was_queued() -> None:
    given_consent = consent()
    [message] = survivor_messages("placed", given_consent)
    assert gate(message, given_consent.with_decision(False, None), NOW).action == "cancel"
    expiring = given_consent.with_decision(True, NOW + timedelta(hours=1))
    assert gate(message, expiring, NOW).action == "send"
    assert gate(message, expiring, NOW + timedelta(hours=1)).action == "cancel"
    other_channel = given_consent.with_terms(SurvivorTerms(channel="email", hours=HOURS))
    assert gate(message, other_channel, NOW).action == "cancel"


def test_provider_staff_get_a_summary_and_a_link_in_their_language_never_contact() -> None:
    offer = OfferFacts(str(uuid.UUID(int=9)), REFERRAL, "provider-1", NOW + timedelta(hours=2))
    planned = plan_offer(cause_id="offer-event", offer=offer, facts=FACTS, directory=DIRECTORY,
                         link_base="https://haven.example/", now=NOW)
    assert {p.channel for p in planned} == {"email", "inbox"}
    for message in planned:
        assert message.audience == "provider" and message.language == "es"
        assert set(message.fields) <= STAFF_FIELDS
        assert message.fields["link"] == (
            f"https://haven.example/provider/offers#offer-{offer.offer_id}")
        assert message.fields["needs"] == "emergency_shelter, medical"


def test_outreach_workers_hear_each_step() -> None:
    expected = {("offered", "offer_made"): "outreach_offered",
                ("placed", "provider_accepted"): "outreach_accepted",
                ("offered", "declined_at_capacity"): "outreach_declined",
                ("waitlisted", "waitlisted"): "outreach_waitlisted",
                ("returned", "no_match"): "outreach_no_match",
                ("accepted", "provider_accepted"): "outreach_choose",
                ("stalled", "waitlisted"): "outreach_stalled"}
    for (status, reason), template in expected.items():
        planned = [p for p in plan_status(cause_id=f"{status}-{reason}", referral_id=REFERRAL,
                                          status=status, reason=reason, facts=FACTS,
                                          consent=SurvivorConsent(), directory=DIRECTORY,
                                          now=NOW) if p.audience == "outreach"]
        assert {p.template for p in planned} == {template}
        assert {p.channel for p in planned} == {"webhook", "email", "inbox"}
    silent = plan_status(cause_id="x", referral_id=REFERRAL, status="matching", reason="ranked",
                         facts=FACTS, consent=SurvivorConsent(), directory=DIRECTORY, now=NOW)
    assert silent == []


@given(cause=st.text(max_size=40), recipient=st.text(max_size=40),
       channel=st.sampled_from(["sms", "email", "webhook", "inbox"]))
def test_ids_are_stable_and_tell_causes_recipients_and_channels_apart(
        cause: str, recipient: str, channel: str) -> None:
    first = notification_id(cause, recipient, channel)
    assert first == notification_id(cause, recipient, channel)
    assert first != notification_id(cause + "x", recipient, channel)
    assert first != notification_id(cause, recipient + "x", channel)
    assert first != notification_id(cause, recipient, channel + "x")


@given(granted=st.booleans(), with_terms=st.booleans(),
       channel=st.sampled_from(["sms", "email", "phone_call"]),
       status=st.sampled_from(["offered", "placed", "waitlisted", "returned", "matching"]),
       at=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1),
                       timezones=st.just(UTC)),
       revoke_after=st.booleans())
def test_never_more_than_the_consent_allows(granted: bool, with_terms: bool, channel: str,
                                             status: str, at: datetime,
                                             revoke_after: bool) -> None:
    given_consent = consent(granted=granted, with_terms=with_terms, channel=channel)
    planned = plan_status(cause_id="c", referral_id=REFERRAL, status=status,
                          reason="provider_accepted", facts=FACTS, consent=given_consent,
                          directory=DIRECTORY, now=at)
    survivor = [p for p in planned if p.audience == "survivor"]
    assert len(survivor) <= 1
    for message in survivor:
        assert granted and with_terms and message.channel == channel
        assert message.not_before >= at
        later = given_consent.with_decision(False, None) if revoke_after else given_consent
        verdict = gate(message, later, message.not_before)
        assert verdict.action == ("cancel" if revoke_after else "send")


def test_staff_are_reminded_before_an_offer_expires() -> None:
    for ttl, lead in ((timedelta(hours=2), timedelta(minutes=30)),
                      (timedelta(minutes=20), timedelta(minutes=5))):
        offer = OfferFacts(str(uuid.UUID(int=9)), REFERRAL, "provider-1", NOW + ttl)
        planned = plan_offer(cause_id="offer-event", offer=offer, facts=FACTS,
                             directory=DIRECTORY, link_base="https://h.example", now=NOW)
        reminders = [p for p in planned if p.template == "provider_offer_expiring"]
        assert {p.channel for p in reminders} == {"email", "inbox"}
        assert {p.not_before for p in reminders} == {offer.expires_at - lead}
        assert all(gate(p, SurvivorConsent(), NOW).action == "hold" for p in reminders)
        assert all(gate(p, SurvivorConsent(), offer.expires_at - lead).action == "send"
                   for p in reminders)


def test_staff_are_asked_to_confirm_stale_capacity_outside_any_referral() -> None:
    confirmed = NOW - timedelta(hours=30)
    planned = plan_capacity_reminder(cause_id="reminder-event", organization_id="outreach-1",
                                     confirmed_at=confirmed, directory=DIRECTORY,
                                     link_base="https://h.example/", now=NOW)
    assert {p.channel for p in planned} == {"webhook", "email"}  # no inbox: it is per referral
    for message in planned:
        assert message.referral_id is None and message.template == "provider_capacity_reminder"
        assert set(message.fields) <= STAFF_FIELDS
        assert message.fields["link"] == "https://h.example/provider/capacity"
        assert message.fields["confirmed_at"] == confirmed.isoformat()
    assert plan_capacity_reminder(cause_id="x", organization_id="unknown", confirmed_at=NOW,
                                  directory=DIRECTORY, link_base="", now=NOW) == []


def test_links_in_staff_messages_lead_to_pages_intake_serves() -> None:
    from services.intake.pages import provider  # a page route, not a guess at one

    served = {route.path for route in provider.router.routes}  # type: ignore[attr-defined]
    offer = OfferFacts(str(uuid.UUID(int=9)), REFERRAL, "provider-1", NOW + timedelta(hours=2))
    links = [p.fields["link"] for p in plan_offer(
        cause_id="o", offer=offer, facts=FACTS, directory=DIRECTORY, link_base="https://h.example",
        now=NOW)] + [p.fields["link"] for p in plan_capacity_reminder(
            cause_id="r", organization_id="outreach-1", confirmed_at=NOW, directory=DIRECTORY,
            link_base="https://h.example", now=NOW)]
    assert links
    for link in links:
        path = link.removeprefix("https://h.example").split("#", 1)[0]
        assert path in served, (path, sorted(served))


def test_outreach_is_told_only_of_a_change_of_status() -> None:
    def outreach(status: str, reason: str, cause: str, told: OutreachTold | None) -> set[str]:
        return {p.template for p in plan_status(
            cause_id=cause, referral_id=REFERRAL, status=status, reason=reason, facts=FACTS,
            consent=SurvivorConsent(), directory=DIRECTORY, now=NOW, told=told)
            if p.audience == "outreach"}

    offered = OutreachTold("offered", "first-offer")
    assert outreach("offered", "offer_made", "first-offer", None) == {"outreach_offered"}
    for reason in ("at_capacity", "offered_elsewhere", "offer_made"):
        assert outreach("offered", reason, f"then-{reason}", offered) == set()
    assert outreach("offered", "offer_made", "first-offer", offered) == {"outreach_offered"}, (
        "the same cause again (a redelivery) is planned again; the log sends it once")
    assert outreach("placed", "provider_accepted", "placed", offered) == {"outreach_accepted"}
    assert outreach("matching", "declined_at_capacity", "no", offered) == {"outreach_declined"}
    assert outreach("stalled", "offered", "stall", offered) == {"outreach_stalled"}


def test_outreach_messages_name_the_referral_by_reference_and_link_to_its_page() -> None:
    from services.intake.pages import outreach  # the page route, not a guess at one
    from shared.references import referral_reference

    served = [re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", route.path) + "$")
              for route in outreach.router.routes]  # type: ignore[attr-defined]
    planned = plan_status(cause_id="c", referral_id=REFERRAL, status="placed",
                          reason="provider_accepted", facts=FACTS, consent=consent(),
                          directory=DIRECTORY, now=NOW, link_base="https://h.example/")
    staff = [p for p in planned if p.audience == "outreach"]
    assert staff and all(set(p.fields) <= STAFF_FIELDS for p in staff)
    for message in staff:
        assert message.fields["reference"] == referral_reference(REFERRAL) == "R-0000-0000"
        assert message.fields["link"] == f"https://h.example/outreach/referrals/{REFERRAL}"
        path = message.fields["link"].removeprefix("https://h.example")
        assert any(pattern.match(path) for pattern in served), path
    [survivor] = [p for p in planned if p.audience == "survivor"]
    assert not {"reference", "link"} & set(survivor.fields), "survivor messages name nothing"
