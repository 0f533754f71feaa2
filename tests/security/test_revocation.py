"""Defect 3: ending a session ends it on the server, and accounts are re-checked (issue 13).

A copied cookie or bearer token must stop working after sign-out, the quick exit, a
password change, a role change or a deactivation.
"""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from services.intake.models import User
from services.intake.pages import session as page_session
from tests.support.intake import PASSWORD, Intake, Member
from tests.support.pages import browser

NEW_PASSWORD = "another long passphrase here"


def _throwaway(intake: Intake) -> Member:
    """A fresh outreach worker (signed in over the API) that a test may switch off."""
    home = intake.members["outreach"]
    name = f"temp-{uuid.uuid4().hex[:8]}"
    made = intake.client.post("/api/v1/admin/users", headers=intake.members["admin"].headers,
                              json={"organization_id": str(home.organization_id),
                                    "username": name, "display_name": "Temp",
                                    "role": "outreach_worker", "password": PASSWORD})
    assert made.status_code == 201, made.text
    member = Member(name, home.role, home.organization_id)
    intake.members[name] = member
    return intake.sign_in(member)


def _copy(intake: Intake, client: TestClient) -> TestClient:
    """Another browser holding a copy of this one's session cookie."""
    thief = TestClient(intake.client.app, raise_server_exceptions=False)
    thief.cookies.set(page_session.COOKIE, client.cookies.get(page_session.COOKIE) or "")
    return thief


def _api_ok(intake: Intake, member: Member) -> int:
    return intake.client.get("/api/v1/referrals", headers=member.headers).status_code


def test_a_copied_cookie_dies_with_sign_out(intake: Intake) -> None:
    client, csrf = browser(intake, "outreach")
    thief = _copy(intake, client)
    assert thief.get("/outreach/referrals").status_code == 200
    assert client.post("/sign-out", data={"csrf": csrf}).status_code == 200
    assert thief.get("/outreach/referrals").status_code == 401
    assert _api_ok(intake, intake.members["outreach"]) == 200, "other sessions carry on"


def test_the_quick_exit_ends_the_session_on_the_server(intake: Intake) -> None:
    client, csrf = browser(intake, "outreach")
    thief = _copy(intake, client)
    assert client.post("/quick-exit", data={"csrf": "not-it"}).status_code == 204
    assert thief.get("/outreach/referrals").status_code == 200, "a forged beacon ends nothing"
    assert client.post("/quick-exit", data={"csrf": csrf}).status_code == 204
    assert thief.get("/outreach/referrals").status_code == 401


def test_deactivation_ends_tokens_and_cookies_at_once_and_is_audited(intake: Intake) -> None:
    member = _throwaway(intake)
    client, _ = browser(intake, member.username)
    admin = intake.members["admin"].headers
    assert _api_ok(intake, member) == 200
    answer = intake.client.post(f"/api/v1/admin/users/{_user_id(intake, member)}/deactivate",
                                headers=admin)
    assert answer.status_code == 204, answer.text
    refused = intake.client.get("/api/v1/referrals", headers=member.headers)
    assert refused.status_code == 401 and "switched off" in refused.json()["detail"]
    assert client.get("/outreach/referrals").status_code == 401
    assert intake.client.post("/api/v1/auth/token", data={
        "username": member.username, "password": PASSWORD}).status_code == 401
    trail = intake.client.get("/api/v1/admin/audit", headers=admin,
                              params={"action": "admin.user_deactivated"}).json()["entries"]
    assert [entry["subject_id"] for entry in trail][:1] == [_user_id(intake, member)]


def test_an_admin_cannot_switch_off_their_own_account(intake: Intake) -> None:
    admin = intake.members["admin"]
    answer = intake.client.post(f"/api/v1/admin/users/{_user_id(intake, admin)}/deactivate",
                                headers=admin.headers)
    assert answer.status_code == 409 and "another network admin" in answer.json()["detail"]
    missing = intake.client.post(f"/api/v1/admin/users/{uuid.uuid4()}/deactivate",
                                 headers=admin.headers)
    assert missing.status_code == 404


def test_deactivation_from_the_admin_page(intake: Intake) -> None:
    member = _throwaway(intake)
    client, csrf = browser(intake, "admin")
    user_id = _user_id(intake, member)
    assert f"/admin/people/{user_id}/deactivate" in client.get("/admin/people").text
    done = client.post(f"/admin/people/{user_id}/deactivate", data={"csrf": csrf},
                       follow_redirects=False)
    assert done.status_code == 303
    assert _api_ok(intake, member) == 401
    assert client.post(f"/admin/people/{uuid.uuid4()}/deactivate",
                       data={"csrf": csrf}).status_code == 409


def test_a_role_that_does_not_fit_the_organization_is_refused_and_changes_nothing(
        intake: Intake) -> None:
    """Each organization kind has one role today (defect 9), so the only role change an
    admin can ask for is one that does not fit: refused, and the person's tokens stay."""
    member = _throwaway(intake)
    changed = intake.client.put(f"/api/v1/admin/users/{_user_id(intake, member)}/role",
                                headers=intake.members["admin"].headers,
                                json={"role": "provider_staff"})
    assert changed.status_code == 422 and "can only have" in changed.json()["detail"]
    assert _api_ok(intake, member) == 200


def test_a_password_change_ends_every_session_of_the_person(intake: Intake) -> None:
    member = _throwaway(intake)
    client, _ = browser(intake, member.username)
    wrong = intake.client.post("/api/v1/me/password", headers=member.headers, json={
        "current_password": "not the password", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 403 and _api_ok(intake, member) == 200
    done = intake.client.post("/api/v1/me/password", headers=member.headers, json={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert done.status_code == 204, done.text
    assert _api_ok(intake, member) == 401
    assert client.get("/outreach/referrals").status_code == 401
    assert intake.client.post("/api/v1/auth/token", data={
        "username": member.username, "password": NEW_PASSWORD}).status_code == 200


def _user_id(intake: Intake, member: Member) -> str:
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        return str(session.exec(select(User).where(User.username == member.username)).one().id)
