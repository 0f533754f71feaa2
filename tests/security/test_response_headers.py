"""Defect 8: API answers carry the pages' hygiene: `nosniff` on every response,
`Cache-Control: no-store` on everything that can hold referral data (successes and
errors alike), and a strict Content-Security-Policy on every HTML response."""

from __future__ import annotations

import uuid

import pytest
from httpx import Response

from tests.support.intake import Intake, referral_body


def _calls(intake: Intake) -> list[tuple[str, Response]]:
    outreach = intake.members["outreach"].headers
    provider, admin = intake.members["provider"].headers, intake.members["admin"].headers
    created = intake.client.post("/api/v1/referrals", json=referral_body(), headers=outreach)
    referral = created.json()["id"]
    get = intake.client.get
    return [
        ("submit", created),
        ("list", get("/api/v1/referrals", headers=outreach)),
        ("timeline", get(f"/api/v1/referrals/{referral}", headers=outreach)),
        ("offers", get("/api/v1/offers", headers=provider)),
        ("audit", get("/api/v1/admin/audit", headers=admin)),
        ("hsds", get("/api/v1/directory/hsds", headers=admin)),
        ("me", get("/api/v1/me", headers=outreach)),
        ("unauthenticated", get("/api/v1/referrals")),
        ("not found", get(f"/api/v1/referrals/{uuid.uuid4()}", headers=outreach)),
        ("invalid", intake.client.post("/api/v1/referrals", json={}, headers=outreach)),
        ("too large", intake.client.post("/api/v1/referrals", content=b"x" * 300_000,
                                         headers=outreach)),
        ("schema", get("/openapi.json")),
        ("no such path", get("/api/v1/nothing-here")),
    ]


def _fails() -> None:
    raise RuntimeError("a bug")


def test_every_api_answer_is_not_sniffed_nor_cached(intake: Intake) -> None:
    app = intake.client.app
    if not any(getattr(r, "path", "") == "/api/v1/test-bug" for r in app.routes):  # type: ignore[attr-defined]
        app.add_api_route("/api/v1/test-bug", _fails)  # type: ignore[attr-defined]
    bug = intake.client.get("/api/v1/test-bug")
    assert bug.status_code == 500
    missing = [(name, answer.status_code) for name, answer in [*_calls(intake), ("bug", bug)]
               if answer.headers.get("x-content-type-options") != "nosniff"
               or answer.headers.get("cache-control") != "no-store"]
    assert missing == []


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/sign-in"])
def test_every_html_answer_has_a_content_security_policy(intake: Intake, path: str) -> None:
    answer = intake.client.get(path)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    policy = answer.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy and "base-uri 'none'" in policy
    assert "unsafe-eval" not in policy and "*" not in policy.replace("*.", "")
    assert answer.headers.get("x-content-type-options") == "nosniff"


def test_static_assets_may_be_cached_but_not_sniffed(intake: Intake) -> None:
    answer = intake.client.get("/static/haven.css")
    assert answer.status_code == 200
    assert answer.headers.get("x-content-type-options") == "nosniff"
    assert "no-store" not in answer.headers.get("cache-control", "")
