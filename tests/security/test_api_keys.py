"""Defect 4: API keys can be revoked — API, admin page and `haven` command, audited
(issue 13)."""

from __future__ import annotations

import uuid

import pytest
from typer.testing import CliRunner

from services.cli import app as haven
from tests.support.intake import Intake, referral_body
from tests.support.pages import browser


def _issue(intake: Intake) -> tuple[str, dict[str, str]]:
    """A fresh outreach key: its id and the header that presents it."""
    issued = intake.client.post("/api/v1/admin/api-keys", headers=intake.members["admin"].headers,
                                json={"organization_id": str(intake.members["outreach"]
                                                             .organization_id),
                                      "name": "case system", "role": "outreach_worker"})
    assert issued.status_code == 201, issued.text
    return issued.json()["id"], {"X-API-Key": issued.json()["key"]}


def _works(intake: Intake, key: dict[str, str]) -> int:
    return intake.client.get("/api/v1/referrals", headers=key).status_code


def _trail(intake: Intake, action: str) -> list[str | None]:
    answer = intake.client.get("/api/v1/admin/audit", headers=intake.members["admin"].headers,
                               params={"action": action, "limit": 500})
    return [entry["subject_id"] for entry in answer.json()["entries"]]


def test_an_admin_lists_and_revokes_a_key_over_the_api(intake: Intake) -> None:
    admin = intake.members["admin"].headers
    key_id, key = _issue(intake)
    assert intake.client.post("/api/v1/referrals", headers=key,
                              json=referral_body()).status_code == 201
    listed = intake.client.get("/api/v1/admin/api-keys", headers=admin)
    assert listed.status_code == 200
    mine = [row for row in listed.json() if row["id"] == key_id]
    assert len(mine) == 1 and mine[0]["revoked_at"] is None
    assert key["X-API-Key"].split("_", 2)[2] not in listed.text, "never the secret"
    assert intake.client.delete(f"/api/v1/admin/api-keys/{key_id}",
                                headers=admin).status_code == 204
    refused = intake.client.get("/api/v1/referrals", headers=key)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    again = intake.client.get("/api/v1/admin/api-keys", headers=admin).json()
    assert [row["revoked_at"] for row in again if row["id"] == key_id] != [None]
    assert intake.client.delete(f"/api/v1/admin/api-keys/{key_id}",
                                headers=admin).status_code == 204, "revoking twice is fine"
    assert intake.client.delete(f"/api/v1/admin/api-keys/{uuid.uuid4()}",
                                headers=admin).status_code == 404
    assert intake.client.delete("/api/v1/admin/api-keys/nope", headers=admin).status_code == 422
    assert key_id in _trail(intake, "admin.api_key_issued")
    assert _trail(intake, "admin.api_key_revoked").count(key_id) == 1


def test_only_admins_revoke_keys(intake: Intake) -> None:
    key_id, key = _issue(intake)
    for name in ("outreach", "provider"):
        answer = intake.client.delete(f"/api/v1/admin/api-keys/{key_id}",
                                      headers=intake.members[name].headers)
        assert answer.status_code == 403
    assert intake.client.delete(f"/api/v1/admin/api-keys/{key_id}",
                                headers=key).status_code == 403
    assert _works(intake, key) == 200


def test_the_admin_page_lists_and_revokes_keys(intake: Intake) -> None:
    key_id, key = _issue(intake)
    client, csrf = browser(intake, "admin")
    page = client.get("/admin/people")
    assert f"/admin/api-keys/{key_id}/revoke" in page.text
    assert key["X-API-Key"].split("_", 2)[2] not in page.text
    done = client.post(f"/admin/api-keys/{key_id}/revoke", data={"csrf": csrf},
                       follow_redirects=False)
    assert done.status_code == 303
    assert _works(intake, key) == 401
    assert f"/admin/api-keys/{key_id}/revoke" not in client.get("/admin/people").text
    assert key_id in _trail(intake, "admin.api_key_revoked")


def test_the_haven_command_lists_and_revokes_keys(
    intake: Intake, database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    key_id, key = _issue(intake)
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    listed = runner.invoke(haven, ["intake", "api-keys", "list"])
    assert listed.exit_code == 0 and key_id in listed.output
    assert key["X-API-Key"].split("_", 2)[2] not in listed.output
    assert runner.invoke(haven, ["intake", "api-keys", "revoke", "nope"]).exit_code == 1
    assert runner.invoke(haven, ["intake", "api-keys", "revoke",
                                 str(uuid.uuid4())]).exit_code == 1
    revoked = runner.invoke(haven, ["intake", "api-keys", "revoke", key_id])
    assert revoked.exit_code == 0, revoked.output
    assert _works(intake, key) == 401
    assert key_id in _trail(intake, "admin.api_key_revoked")
