"""Defect 2: each token type opens only its own door (issue 13)."""

from __future__ import annotations

from services.intake.pages import session as page_session
from tests.support.intake import Intake
from tests.support.pages import browser


def test_the_page_cookie_is_no_api_bearer_token(intake: Intake) -> None:
    client, _ = browser(intake, "admin")
    cookie = client.cookies.get(page_session.COOKIE)
    assert cookie
    as_bearer = intake.client.get("/api/v1/admin/organizations",
                                  headers={"Authorization": f"Bearer {cookie}"})
    assert as_bearer.status_code == 401
    assert "not an API access token" in as_bearer.json()["detail"]
    honest = intake.client.get("/api/v1/admin/organizations",
                               headers=intake.members["admin"].headers)
    assert honest.status_code == 200


def test_an_api_token_is_no_page_cookie(intake: Intake) -> None:
    client, _ = browser(intake, "admin")
    client.cookies.set(page_session.COOKIE, intake.members["admin"].token)
    assert client.get("/admin/people").status_code == 401
