"""Provider staff and network admin pages, through FastAPI's TestClient.

Every refusal is a readable page with a 4xx status; nothing personal reaches a title
or an address; changes go through the same use cases (and outbox) as the API.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from services.intake.directory.handlers import record_counts
from services.intake.models import Referral
from services.intake.offers import handlers as offers
from services.intake.offers.models import Offer
from services.intake.pages.broker_stats import CachedBrokerNumbers
from services.intake.pages.dashboard import Spread, spread, suppressed, waiting_times
from shared.events import CapacityCounted, OfferClosed
from shared.settings import KafkaSettings
from tests.support.intake import Intake
from tests.support.pages import CANARY_NAME, browser, engine, offer_for, submit


def _card(page: str, offer: str) -> str:
    """The inbox card of one offer (cards follow each other in one list)."""
    return page[page.index(f'id="offer-{offer}"'):].split('<li class="card"')[0]


def test_provider_accepts_in_one_step_and_only_then_sees_contact(intake: Intake) -> None:
    outreach, csrf = browser(intake, "outreach")
    offer = offer_for(intake, submit(outreach, csrf))
    staff, staff_csrf = browser(intake, "provider")
    inbox = staff.get("/provider/offers")
    card = _card(inbox.text, offer)
    assert "25–29" in card and "language_fit" in card and "left" in card
    assert CANARY_NAME not in inbox.text
    accepted = staff.post(f"/provider/offers/{offer}/answer",
                          data={"csrf": staff_csrf, "decision": "accept"}, follow_redirects=False)
    assert accepted.status_code == 303
    assert CANARY_NAME not in staff.get("/provider/offers").text, "not before matching confirms"
    with Session(engine(intake)) as session:  # what the projector does with OfferClosed
        stored = session.get(Offer, uuid.UUID(offer))
        assert stored is not None
        offers.offer_closed(session, OfferClosed(
            offer_id=stored.id, referral_id=stored.referral_id,
            organization_id=stored.organization_id, service_id=stored.service_id,
            outcome="accepted", closed_at=datetime.now(UTC)))
        session.commit()
    after = staff.get("/provider/offers")
    card = _card(after.text, offer)
    assert CANARY_NAME in card and "Show contact details" in card, card
    late = staff.post(f"/provider/offers/{offer}/answer",
                      data={"csrf": staff_csrf, "decision": "decline", "reason": "at_capacity"})
    assert late.status_code == 409 and "already" in late.text
    with Session(engine(intake)) as session:
        stored = session.get(Offer, uuid.UUID(offer))
        assert stored is not None and stored.status == "accepted"


@pytest.mark.parametrize(("data", "status", "message"), [
    ({"decision": "maybe"}, 422, "Choose Accept or Decline"),
    ({"decision": "decline", "reason": "bored"}, 422, "Choose a reason"),
    ({"decision": "decline", "reason": "other", "note": "x" * 1001}, 422, "under 1000"),
])
def test_bad_answers_are_refused_with_a_reason(intake: Intake, data: dict[str, str],
                                               status: int, message: str) -> None:
    outreach, csrf = browser(intake, "outreach")
    offer = offer_for(intake, submit(outreach, csrf))
    staff, staff_csrf = browser(intake, "provider")
    answer = staff.post(f"/provider/offers/{offer}/answer", data={"csrf": staff_csrf, **data})
    assert answer.status_code == status and message in answer.text
    assert staff.post(f"/provider/offers/{uuid.uuid4()}/answer", data={
        "csrf": staff_csrf, "decision": "accept"}).status_code == 404
    assert staff.post("/provider/offers/not-an-id/answer", data={
        "csrf": staff_csrf, "decision": "accept"}).status_code == 404


def test_decline_with_reason_and_note_is_recorded(intake: Intake) -> None:
    outreach, csrf = browser(intake, "outreach")
    offer = offer_for(intake, submit(outreach, csrf))
    staff, staff_csrf = browser(intake, "provider")
    answer = staff.post(f"/provider/offers/{offer}/answer", follow_redirects=False, data={
        "csrf": staff_csrf, "decision": "decline", "reason": "not_eligible", "note": "no beds"})
    assert answer.status_code == 303
    with Session(engine(intake)) as session:
        stored = session.get(Offer, uuid.UUID(offer))
        assert stored is not None and (stored.status, stored.reason) == ("declined",
                                                                         "not_eligible")


def test_capacity_is_confirmed_or_changed_in_one_click(intake: Intake) -> None:
    headers = intake.members["provider"].headers
    location = intake.client.post("/api/v1/locations", headers=headers, json={
        "name": "Pages location", "region": "north", "latitude": 52.0, "longitude": 5.0})
    service = intake.client.post("/api/v1/services", headers=headers, json={
        "name": "Pages shelter", "service_type": "emergency_shelter",
        "location_id": location.json()["id"]})
    service_id = service.json()["id"]
    intake.client.put(f"/api/v1/services/{service_id}/capacity", headers=headers,
                      json={"available": 2, "maximum": 6})
    staff, csrf = browser(intake, "provider")
    assert "Pages shelter" in staff.get("/provider/capacity").text
    before = intake.client.get(f"/api/v1/services/{service_id}/capacity", headers=headers).json()
    confirmed = staff.post(f"/provider/capacity/{service_id}",
                           data={"csrf": csrf, "action": "confirm"}, follow_redirects=False)
    assert confirmed.status_code == 303
    after = intake.client.get(f"/api/v1/services/{service_id}/capacity", headers=headers).json()
    assert after["version"] == before["version"] + 1 and after["available"] == 2
    changed = staff.post(f"/provider/capacity/{service_id}",
                         data={"csrf": csrf, "action": "set", "available": "5"},
                         follow_redirects=False)
    assert changed.status_code == 303
    now = intake.client.get(f"/api/v1/services/{service_id}/capacity", headers=headers).json()
    assert now["available"] == 5
    with Session(engine(intake)) as session:  # matching's ledger: 2 placed, 1 held
        record_counts(session, CapacityCounted(
            service_id=uuid.UUID(service_id), held=1, pending=[1, 2], placements_through=2,
            figure_version=now["version"], revision=1, counted_at=datetime.now(UTC)))
        session.commit()
    card = staff.get("/provider/capacity").text
    card = card[card.index(f'id="service-{service_id}"'):]
    assert '<strong class="available">3</strong> of 6' in card
    assert "2 placed by Haven" in card and "1 held for offers" in card
    assert '<strong class="open">2</strong>' in card and "Still right: 3 open" in card
    too_many = staff.post(f"/provider/capacity/{service_id}",
                          data={"csrf": csrf, "action": "set", "available": "7"})
    assert too_many.status_code == 422 and "more than the maximum" in too_many.text
    nonsense = staff.post(f"/provider/capacity/{service_id}",
                          data={"csrf": csrf, "action": "set", "available": "lots"})
    assert nonsense.status_code == 422 and "whole number" in nonsense.text
    foreign = staff.post(f"/provider/capacity/{uuid.uuid4()}",
                         data={"csrf": csrf, "action": "confirm"})
    assert foreign.status_code == 404


def test_admin_dashboard_counts_referrals_by_stage(intake: Intake) -> None:
    outreach, csrf = browser(intake, "outreach")
    submit(outreach, csrf)
    with Session(engine(intake)) as session:
        submitted = len(session.exec(select(Referral).where(
            Referral.status == "submitted", Referral.erased_at == None)).all())  # noqa: E711
    admin, _ = browser(intake, "admin")
    page = admin.get("/admin")
    assert page.status_code == 200 and "<svg" in page.text
    row = re.search(r'data-stage="submitted">.*?class="count">(\d+)<', page.text, re.S)
    assert row is not None and int(row.group(1)) == submitted
    assert "Counts under 5 are hidden" in page.text


def test_admin_onboarding_validates_like_the_api(intake: Intake) -> None:
    admin, csrf = browser(intake, "admin")
    bad = admin.post("/admin/people", data={"csrf": csrf, "what": "organization",
                                            "name": "x", "kind": "provider", "region": "north"})
    assert bad.status_code == 422 and "at least 2 characters" in bad.text
    name = f"Pages test org {uuid.uuid4().hex[:6]}"
    good = admin.post("/admin/people", follow_redirects=False, data={
        "csrf": csrf, "what": "organization", "name": name, "kind": "provider",
        "region": "north"})
    assert good.status_code == 303
    assert name in admin.get("/admin/people").text
    again = admin.post("/admin/people", data={"csrf": csrf, "what": "organization",
                                              "name": name, "kind": "provider",
                                              "region": "north"})
    assert again.status_code == 409 and "exists" in again.text


def test_small_counts_are_suppressed() -> None:
    assert suppressed([("north", 7), ("south", 4), ("east", 5)]) == [
        ("north", 7), ("east", 5), ("south", None)]


def test_dashboard_opens_without_the_broker_and_says_so(intake: Intake) -> None:
    state = intake.client.app.state  # type: ignore[attr-defined]
    kept = state.pages_broker
    state.pages_broker = CachedBrokerNumbers(
        KafkaSettings(bootstrap_servers="127.0.0.1:1"), {"intake": "haven-intake"})
    try:
        admin, _ = browser(intake, "admin")
        page = admin.get("/admin")
    finally:
        state.pages_broker = kept
    assert page.status_code == 200 and "broker cannot be reached" in page.text


def test_waiting_times_per_week_and_region(intake: Intake) -> None:
    outreach, csrf = browser(intake, "outreach")
    offer = offer_for(intake, submit(outreach, csrf))
    staff, staff_csrf = browser(intake, "provider")
    staff.post(f"/provider/offers/{offer}/answer", data={"csrf": staff_csrf,
                                                          "decision": "accept"})
    with Session(engine(intake)) as session:
        times = waiting_times(session, intake.client.app.state.ports)  # type: ignore[attr-defined]
    assert times["region"]["acceptance"]["north"].count >= 1
    assert times["week"]["first_offer"]["all"].count >= 1
    admin, _ = browser(intake, "admin")
    page = admin.get("/admin")
    assert re.search(r'data-times="region".*?<th scope="row">north</th>', page.text, re.S)


def test_spread_is_median_and_90th_percentile() -> None:
    assert spread([float(h) for h in range(1, 11)]) == Spread(10, 5.5, 9.9)
    assert spread([3.0]) == Spread(1, 3.0, 3.0)
    assert spread([]) == Spread(0, None, None)


def test_the_inbox_streams_offer_statuses(intake: Intake) -> None:
    outreach, csrf = browser(intake, "outreach")
    offer = offer_for(intake, submit(outreach, csrf))
    staff, _ = browser(intake, "provider")
    intake.client.app.state.pages.live_seconds = 0.5  # type: ignore[attr-defined]
    try:
        with staff.stream("GET", "/provider/offers/live") as stream:
            text = "".join(stream.iter_text())
    finally:
        intake.client.app.state.pages.live_seconds = 300  # type: ignore[attr-defined]
    assert f'"id": "{offer}", "status": "open", "label": "Waiting for an answer"' in text
    outsider, _ = browser(intake, "outreach")
    assert outsider.get("/provider/offers/live").status_code == 403
