"""Every page form, posted with garbage by a signed-in person of each role: always an
answer below 500 with a readable page, never a stack trace."""

from __future__ import annotations

import uuid

import pytest

from tests.support.intake import Intake
from tests.support.pages import browser

ID = str(uuid.uuid4())
POSTS = ["/outreach/referrals", f"/outreach/referrals/{ID}/consent",
         f"/outreach/referrals/{ID}/erase", f"/outreach/referrals/{ID}/choice",
         f"/provider/offers/{ID}/answer", f"/provider/capacity/{ID}", "/admin/people",
         "/sign-out", "/outreach/referrals/not-an-id/erase", "/provider/capacity/%00"]
GARBAGE: list[dict[str, str | list[str]]] = [
    {}, {"needs": "x" * 5000, "urgency": "🙂", "age": "-1", "region": "\x00"},
    {"age": "1e9", "age_min": "999999999999999999999", "dependents": "NaN",
     "consent_until": "9999-99-99", "survivor_from": "25:61", "retention_days": "0x10"},
    {"decision": "accept", "available": "-5", "action": "set", "offer_id": "🙂"},
    {"what": "user", "organization_id": "nope", "role": "god", "password": "short"},
    {"scope": ["share_profile", "share_contact"], "confirm": "on", "reason": "\n\r"},
]


@pytest.mark.parametrize("member", ["outreach", "provider", "admin"])
def test_garbage_gets_a_readable_answer_below_500(intake: Intake, member: str) -> None:
    client, csrf = browser(intake, member)
    failures = []
    for path in POSTS:
        for body in GARBAGE:
            for token in (csrf, "wrong"):
                answer = client.post(path, data={**body, "csrf": token},
                                     follow_redirects=False)
                if answer.status_code >= 500 or "Traceback" in answer.text:
                    failures.append(f"{path} {sorted(body)} -> {answer.status_code}")
                elif answer.status_code >= 400 and "<h1>" not in answer.text:
                    failures.append(f"{path} {sorted(body)}: not a page")
    assert failures == []
    raw = client.post("/outreach/referrals", content=b"\xff\xfe garbage",
                      headers={"Content-Type": "multipart/form-data; boundary=zz"})
    assert raw.status_code < 500
