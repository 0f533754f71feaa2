"""Defect 5: sign-in throttling per account and per client address (issue 13).

Before: 200 wrong passwords in a row were all answered 401, each one an argon2 check and
an audit row.
"""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from services.intake.lockout import LONGEST_LOCK, lock_after
from services.intake.models import User
from tests.support.intake import PASSWORD, Intake, Member
from tests.support.pages import browser

_ADDRESSES = itertools.count(1)


def _client(intake: Intake) -> TestClient:
    """A client from an address of its own (documentation range), so limits do not mix."""
    address = f"198.51.100.{next(_ADDRESSES)}"
    return TestClient(intake.client.app, raise_server_exceptions=False,
                      client=(address, 40000))


def _user(intake: Intake) -> str:
    name = f"lock-{uuid.uuid4().hex[:8]}"
    made = intake.client.post("/api/v1/admin/users", headers=intake.members["admin"].headers,
                              json={"organization_id": str(intake.members["outreach"]
                                                           .organization_id),
                                    "username": name, "display_name": "Lock",
                                    "role": "outreach_worker", "password": PASSWORD})
    assert made.status_code == 201, made.text
    return name


def _try(client: TestClient, username: str, password: str = "wrong password") -> int:
    return client.post("/api/v1/auth/token",
                       data={"username": username, "password": password}).status_code


def _trail(intake: Intake, action: str) -> list[str | None]:
    answer = intake.client.get("/api/v1/admin/audit", headers=intake.members["admin"].headers,
                               params={"action": action, "limit": 500})
    return [entry["subject_id"] for entry in answer.json()["entries"]]


def _account(intake: Intake, username: str) -> User:
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        return session.exec(select(User).where(User.username == username)).one()


def _time_passes(intake: Intake, username: str) -> None:
    """The lock ran out (rather than waiting for it)."""
    with Session(intake.client.app.state.engine) as session:  # type: ignore[attr-defined]
        user = session.exec(select(User).where(User.username == username)).one()
        user.locked_until = datetime.now(UTC) - timedelta(seconds=1)
        session.add(user)
        session.commit()


def test_the_lock_doubles_and_never_lasts_longer_than_15_minutes() -> None:
    assert [lock_after(n) for n in range(1, 5)] == [None] * 4
    assert [lock_after(n) for n in range(5, 9)] == [timedelta(seconds=s) for s in
                                                   (30, 60, 120, 240)]
    assert lock_after(10) == lock_after(1_000_000) == LONGEST_LOCK == timedelta(minutes=15)


def test_failures_in_a_row_lock_the_account_briefly_with_an_alert(intake: Intake) -> None:
    client, username = _client(intake), _user(intake)
    user_id = str(_account(intake, username).id)
    assert [_try(client, username) for _ in range(5)] == [401] * 5
    locked = client.post("/api/v1/auth/token", data={"username": username,
                                                     "password": PASSWORD})
    assert locked.status_code == 429, "even the right password waits: no guessing in a lock"
    assert 1 <= int(locked.headers["retry-after"]) <= 30
    assert "Try again in" in locked.json()["detail"]
    assert _try(client, username) == 429
    assert _trail(intake, "sign_in.failed").count(user_id) == 5, "no audit row while locked"
    assert _trail(intake, "sign_in.locked").count(user_id) == 1
    admin, _ = browser(intake, "admin")
    dashboard = admin.get("/admin")
    assert re.search(r'id="locked">\d+<', dashboard.text), "the admin dashboard alerts"
    _time_passes(intake, username)
    assert _try(client, username) == 401  # the sixth failure in a row: locked twice as long
    again = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert again.status_code == 429 and 30 < int(again.headers["retry-after"]) <= 60
    _time_passes(intake, username)
    assert _try(client, username, PASSWORD) == 200
    assert _account(intake, username).failed_sign_ins == 0, "a success starts afresh"
    assert _trail(intake, "sign_in.locked").count(user_id) == 1, "one alert per streak"


def test_a_browser_that_signed_in_before_is_not_locked_out(intake: Intake) -> None:
    username = _user(intake)
    home = intake.members["outreach"]
    intake.members[username] = Member(username, home.role, home.organization_id)
    owner, owner_csrf = browser(intake, username)  # the owner signed in here before
    owner.post("/sign-out", data={"csrf": owner_csrf})
    attacker = _client(intake)
    assert [_try(attacker, username) for _ in range(5)] == [401] * 5
    stranger = TestClient(intake.client.app, raise_server_exceptions=False)
    page = stranger.get("/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    refused = stranger.post("/sign-in", follow_redirects=False, data={
        "username": username, "password": PASSWORD, "csrf": csrf.group(1)})
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    page = owner.get("/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    welcomed = owner.post("/sign-in", follow_redirects=False, data={
        "username": username, "password": PASSWORD, "csrf": csrf.group(1)})
    assert welcomed.status_code == 303, "the lock does not keep the owner out"


def test_one_address_gets_ten_failures_a_minute_and_a_bounded_audit_trail(
    intake: Intake,
) -> None:
    client, elsewhere = _client(intake), _client(intake)
    before = len(_trail(intake, "sign_in.failed"))
    answers = [_try(client, f"nobody-{n}") for n in range(30)]
    assert answers == [401] * 10 + [429] * 20
    throttled = client.post("/api/v1/auth/token", data={"username": "x", "password": "y"})
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    assert "from your network" in throttled.json()["detail"]
    assert len(_trail(intake, "sign_in.failed")) - before == 10, "throttled tries leave no row"
    assert _try(elsewhere, "nobody") == 401, "other addresses are not affected"


def test_wrong_current_passwords_count_against_the_same_limits(intake: Intake) -> None:
    client, username = _client(intake), _user(intake)
    token = client.post("/api/v1/auth/token", data={"username": username,
                                                    "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    answers = [client.post("/api/v1/me/password", headers=headers, json={
        "current_password": f"guess {n}", "new_password": "a new long passphrase"}).status_code
        for n in range(12)]
    assert answers == [403] * 10 + [429] * 2
