"""The pages for the three roles, through FastAPI's TestClient on SQLite and PostgreSQL.

Every refusal is a readable page with a 4xx status; nothing personal reaches a title
or an address; changes go through the same use cases (and outbox) as the API.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from services.intake.auth import Principal
from services.intake.models import OutboxMessage, Referral, Role
from services.intake.offers import handlers as offers
from services.intake.offers.models import Offer
from services.intake.pages import session as page_session
from services.intake.pages.dashboard import suppressed
from shared import topics
from shared.events import OfferClosed, OfferMade
from tests.support.intake import PASSWORD, Intake

CANARY_NAME = "CANARY-NAME-Pages"
FORM = {"needs": ["emergency_shelter", "legal_aid"], "urgency": "tonight", "age": "29",
        "gender_identity": "woman", "region": "north", "languages": "en, es",
        "dependents": "0", "contact_name": CANARY_NAME, "contact_phone": "+00 111 222 333",
        "consent_profile": "on", "consent_contact": "on", "explained": "on"}


def browser(intake: Intake, member: str) -> tuple[TestClient, str]:
    """A client with its own cookie jar, signed in through the page; returns its CSRF token."""
    client = TestClient(intake.client.app, raise_server_exceptions=False)
    page = client.get("/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, page.text
    signed = client.post("/sign-in", data={"username": intake.members[member].username,
                                           "password": PASSWORD, "csrf": csrf.group(1)},
                         follow_redirects=False)
    assert signed.status_code == 303, signed.text
    value = client.cookies.get(page_session.COOKIE)
    viewer = page_session.decode(value, secret=intake.client.app.state.token_secret)  # type: ignore[attr-defined]
    return client, viewer.csrf


def engine(intake: Intake):  # type: ignore[no-untyped-def]
    return intake.client.app.state.engine  # type: ignore[attr-defined]


def submit(client: TestClient, csrf: str, **changes: object) -> str:
    answer = client.post("/outreach/referrals", data={**FORM, "csrf": csrf, **changes},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"]).rsplit("/", 1)[-1]


def test_sign_in_sets_a_strict_expiring_cookie_and_pages_are_not_cached(intake: Intake) -> None:
    client = TestClient(intake.client.app, raise_server_exceptions=False)
    page = client.get("/sign-in")
    assert page.headers["cache-control"] == "no-store"
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    wrong = client.post("/sign-in", data={"username": "nobody", "password": "x",
                                          "csrf": csrf.group(1)})
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    forged = TestClient(intake.client.app).post("/sign-in", data={
        "username": intake.members["outreach"].username, "password": PASSWORD, "csrf": "x"})
    assert forged.status_code == 403 and "Reload the page" in forged.text
    signed = client.post("/sign-in", data={"username": intake.members["outreach"].username,
                                           "password": PASSWORD, "csrf": csrf.group(1)},
                         follow_redirects=False)
    assert signed.headers["location"] == "/outreach/referrals"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=1800" in cookie


def test_pages_need_a_live_session_of_the_right_role(intake: Intake) -> None:
    anonymous = TestClient(intake.client.app, raise_server_exceptions=False)
    assert anonymous.get("/outreach/referrals").status_code == 401
    member = intake.members["outreach"]
    old = page_session.encode(
        page_session.new_session(Principal(uuid.uuid4(), member.organization_id,
                                           Role.OUTREACH_WORKER), "x"),
        secret=intake.client.app.state.token_secret,  # type: ignore[attr-defined]
        now=datetime.now(UTC) - timedelta(hours=1))
    anonymous.cookies.set(page_session.COOKIE, old)
    expired = anonymous.get("/outreach/referrals")
    assert expired.status_code == 401 and "30 minutes without activity" in expired.text
    staff, _ = browser(intake, "provider")
    wrong_role = staff.get("/outreach/referrals/new")
    assert wrong_role.status_code == 403 and "another role" in wrong_role.text


def test_referral_form_submits_through_the_use_case_without_personal_data_in_title_or_url(
        intake: Intake) -> None:
    client, csrf = browser(intake, "outreach")
    form = client.get("/outreach/referrals/new")
    assert form.status_code == 200 and 'for="age"' in form.text
    referral = submit(client, csrf)
    page = client.get(f"/outreach/referrals/{referral}")
    assert page.status_code == 200
    title = re.search(r"<title>(.*?)</title>", page.text, re.S)
    assert title is not None and "CANARY" not in title.group(1)
    details = page.text.index('<details class="private">')
    assert page.text.index(CANARY_NAME) > details, "personal details only inside <details>"
    assert "Submitted, waiting for matching" in page.text
    with Session(engine(intake)) as session:
        stored = session.get(Referral, uuid.UUID(referral))
        assert stored is not None and stored.urgency == "tonight"
        outbox = session.exec(select(OutboxMessage).where(
            OutboxMessage.topic == topics.REFERRAL_SUBMITTED.name)).all()
    assert outbox and all(CANARY_NAME.encode() not in row.value for row in outbox)
    listed = client.get("/outreach/referrals")
    assert f'data-referral="{referral}"' in listed.text and CANARY_NAME not in listed.text


@pytest.mark.parametrize(("changes", "message"), [
    ({"needs": []}, "Choose at least one thing the person needs."),
    ({"urgency": ""}, "Choose how soon help is needed."),
    ({"age": "", "age_min": "", "age_max": ""}, "give the person&#39;s age or an age range"),
    ({"age": "twenty"}, "valid integer"),
    ({"age": "", "age_min": "40", "age_max": "30"}, "lowest age must not be above"),
    ({"region": ""}, "Say which region the person is in now."),
    ({"languages": "English"}, "ISO 639 codes"),
    ({"contact_phone": "call me"}, "String should match pattern"),
    ({"explained": ""}, "told they can withdraw"),
    ({"consent_survivor": "on", "contact_phone": ""}, "which channel and which hours"),
    ({"consent_survivor": "on", "survivor_channel": "email"}, "give their email"),
    ({"consent_until": "2001-01-01"}, "already in the past"),
    ({"consent_until": "not a date"}, "valid datetime"),
    ({"dependents": "99999999999999999999"}, "less than or equal to 20"),
    ({"retention_days": "-3"}, "greater than or equal to 1"),
])
def test_bad_form_input_answers_422_with_a_message_and_keeps_what_was_typed(
        intake: Intake, changes: dict[str, object], message: str) -> None:
    client, csrf = browser(intake, "outreach")
    data = {**FORM, "csrf": csrf, **changes}
    data = {key: value for key, value in data.items() if value not in ("", [])}
    answer = client.post("/outreach/referrals", data=data, follow_redirects=False)
    assert answer.status_code == 422, answer.text
    assert message in answer.text
    assert 'role="alert"' in answer.text and "Traceback" not in answer.text
    assert 'value="29"' in answer.text or "age" in changes, "the form keeps what was typed"


def test_forms_without_the_csrf_token_are_refused(intake: Intake) -> None:
    client, _ = browser(intake, "outreach")
    answer = client.post("/outreach/referrals", data=FORM)
    assert answer.status_code == 403 and "Reload the page" in answer.text


def test_live_statuses_stream_as_server_sent_events(intake: Intake) -> None:
    client, csrf = browser(intake, "outreach")
    referral = submit(client, csrf)
    intake.client.app.state.pages.live_seconds = 0.5  # type: ignore[attr-defined]
    try:
        with client.stream("GET", "/outreach/referrals/live") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            text = "".join(stream.iter_text())
    finally:
        intake.client.app.state.pages.live_seconds = 300  # type: ignore[attr-defined]
    assert f'"id": "{referral}", "status": "submitted"' in text
    assert "Submitted, waiting for matching" in text


def _offer_for(intake: Intake, referral: str) -> str:
    made = OfferMade(offer_id=uuid.uuid4(), referral_id=uuid.UUID(referral),
                     organization_id=intake.members["provider"].organization_id,
                     service_id=uuid.uuid4(), rank=1,
                     expires_at=datetime.now(UTC) + timedelta(hours=2),
                     explanation=["met every eligibility rule", "language_fit: +3.00"])
    with Session(engine(intake)) as session:
        offers.offer_made(session, made)  # what the projector does with matching's OfferMade
        session.commit()
    return str(made.offer_id)


def _card(page: str, offer: str) -> str:
    """The inbox card of one offer (cards follow each other in one list)."""
    return page[page.index(f'id="offer-{offer}"'):].split('<li class="card"')[0]


def test_provider_accepts_in_one_step_and_only_then_sees_contact(intake: Intake) -> None:
    outreach, csrf = browser(intake, "outreach")
    offer = _offer_for(intake, submit(outreach, csrf))
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
    offer = _offer_for(intake, submit(outreach, csrf))
    staff, staff_csrf = browser(intake, "provider")
    answer = staff.post(f"/provider/offers/{offer}/answer", data={"csrf": staff_csrf, **data})
    assert answer.status_code == status and message in answer.text
    assert staff.post(f"/provider/offers/{uuid.uuid4()}/answer", data={
        "csrf": staff_csrf, "decision": "accept"}).status_code == 404
    assert staff.post("/provider/offers/not-an-id/answer", data={
        "csrf": staff_csrf, "decision": "accept"}).status_code == 404


def test_decline_with_reason_and_note_is_recorded(intake: Intake) -> None:
    outreach, csrf = browser(intake, "outreach")
    offer = _offer_for(intake, submit(outreach, csrf))
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
