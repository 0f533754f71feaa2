"""Sign-in and the outreach pages, through FastAPI's TestClient on SQLite and PostgreSQL.

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
from services.intake.models import OutboxMessage, Referral, Role, User
from services.intake.pages import session as page_session
from shared import topics
from tests.support.intake import PASSWORD, Intake
from tests.support.pages import CANARY_NAME, FORM, browser, engine, submit


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
    ({"age": "about twenty"}, "Write the age in digits, such as 30."),  # issue 19, defect 11
    ({"age": "", "age_min": "40", "age_max": "30"}, "lowest age must not be above"),
    ({"region": ""}, "Say which region the person is in now."),
    ({"languages": "English"}, "ISO 639 codes"),
    ({"contact_phone": "call me"}, "may have digits, spaces, +, brackets and dashes only"),
    ({"explained": ""}, "told they can withdraw"),
    ({"consent_survivor": "on", "contact_phone": ""}, "which channel and which hours"),
    ({"consent_survivor": "on", "survivor_channel": "email"}, "give their email"),
    ({"consent_until": "2001-01-01"}, "already in the past"),
    ({"consent_until": "not a date"}, "Choose the date consent ends, such as 2026-12-31."),
    ({"dependents": "99999999999999999999"}, "The number of children must be 20 or less."),
    ({"retention_days": "-3"}, "The number of days to keep the data must be 1 or more."),
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
    assert "Input should" not in answer.text and "String should" not in answer.text, \
        "plain words, not the validator's"
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


def test_another_organizations_referral_is_not_found_and_odd_ids_are_404(intake: Intake) -> None:
    client, csrf = browser(intake, "outreach")
    referral = submit(client, csrf)
    other, _ = browser(intake, "other_outreach")
    hidden = other.get(f"/outreach/referrals/{referral}")
    assert hidden.status_code == 404 and "No referral with this id" in hidden.text
    assert CANARY_NAME not in hidden.text
    assert other.get("/outreach/referrals/../../etc").status_code == 404
    assert other.get("/outreach/referrals/12345").status_code == 404


def test_sign_out_ends_the_session_and_secure_cookies_can_be_required(intake: Intake) -> None:
    client, csrf = browser(intake, "outreach")
    out = client.post("/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/sign-in"
    assert client.get("/outreach/referrals").status_code == 401
    intake.client.app.state.pages.secure_cookies = True  # type: ignore[attr-defined]
    try:
        plain = TestClient(intake.client.app, base_url="https://testserver")
        page = plain.get("/sign-in")
        csrf_field = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf_field is not None
        signed = plain.post("/sign-in", follow_redirects=False, data={
            "username": intake.members["outreach"].username, "password": PASSWORD,
            "csrf": csrf_field.group(1)})
        assert "secure" in signed.headers["set-cookie"].lower()
    finally:
        intake.client.app.state.pages.secure_cookies = None  # type: ignore[attr-defined]


def test_a_switched_off_account_loses_its_session_and_days_end(intake: Intake) -> None:
    client, csrf = browser(intake, "other_outreach")
    assert client.get("/outreach/referrals").status_code == 200
    with Session(engine(intake)) as session:
        user = session.exec(select(User).where(
            User.username == intake.members["other_outreach"].username)).one()
        user.active = False
        session.add(user)
        session.commit()
    try:
        refused = client.get("/outreach/referrals")
        assert refused.status_code == 401 and "switched off" in refused.text
    finally:
        with Session(engine(intake)) as session:
            user = session.exec(select(User).where(
                User.username == intake.members["other_outreach"].username)).one()
            user.active = True
            session.add(user)
            session.commit()
    member = intake.members["outreach"]
    long_ago = datetime.now(UTC) - timedelta(hours=11)
    day = page_session.PageSession(Principal(uuid.uuid4(), member.organization_id,
                                             Role.OUTREACH_WORKER), "x", "csrf", long_ago)
    fresh_click = page_session.encode(day, secret=intake.client.app.state.token_secret)  # type: ignore[attr-defined]
    with pytest.raises(page_session.SessionExpired):
        page_session.decode(fresh_click, secret=intake.client.app.state.token_secret)  # type: ignore[attr-defined]


def test_one_can_sign_in_straight_from_the_page_that_asked_for_it(intake: Intake) -> None:
    client = TestClient(intake.client.app, raise_server_exceptions=False)
    asked = client.get("/provider/capacity")
    assert asked.status_code == 401 and "Please sign in." in asked.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', asked.text)
    assert csrf is not None and csrf.group(1)
    assert 'name="next" value="/provider/capacity"' in asked.text
    member = {"username": intake.members["provider"].username, "password": PASSWORD,
              "csrf": csrf.group(1)}
    too_long = client.post("/sign-in", data={**member, "username": "x" * 5000})
    assert too_long.status_code == 401 and "Wrong username or password" in too_long.text
    signed = client.post("/sign-in", follow_redirects=False,
                         data={**member, "next": "/provider/capacity"})
    assert signed.status_code == 303 and signed.headers["location"] == "/provider/capacity"
    other = TestClient(intake.client.app, raise_server_exceptions=False)
    fresh = re.search(r'name="csrf" value="([^"]+)"', other.get("/sign-in").text)
    assert fresh is not None
    elsewhere = other.post("/sign-in", follow_redirects=False, data={
        **member, "csrf": fresh.group(1), "next": "//elsewhere.example/"})
    assert elsewhere.headers["location"] == "/provider/offers", "never to another site"
