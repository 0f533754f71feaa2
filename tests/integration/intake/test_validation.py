"""Bad input gets a 4xx with a message a person can act on; never a 500, never an echo."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.support.intake import Intake, referral_body

CANARY = "CANARY-NAME-Zyx"


def _without(path: str) -> dict[str, Any]:
    body = copy.deepcopy(referral_body())
    *parents, leaf = path.split(".")
    node: Any = body
    for part in parents:
        node = node[part]
    del node[leaf]
    return body


def _with(path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(referral_body())
    *parents, leaf = path.split(".")
    node: Any = body
    for part in parents:
        node = node[part]
    node[leaf] = value
    return body


CASES: list[tuple[str, Any, str]] = [
    ("missing needs", _without("needs"), "needs"),
    ("empty needs", _with("needs", []), "needs"),
    ("unknown service type", _with("needs", ["spa_day"]), "needs.0"),
    ("wrong type", _with("urgency", 5), "urgency"),
    ("unknown urgency", _with("urgency", "someday"), "urgency"),
    ("no age at all", _with("eligibility", {"gender_identity": "woman"}), "eligibility"),
    ("reversed age range", _with("eligibility.age_range", {"min": 40, "max": 20}),
     "eligibility.age_range"),
    ("negative age", _with("eligibility.age_range", {"min": -1, "max": 20}),
     "eligibility.age_range.min"),
    ("bad language", _with("eligibility.languages", ["English"]), "eligibility.languages"),
    ("unknown field", _with("favourite_colour", "blue"), "(unknown field 7)"),
    ("bad time zone", _with("consent.contact_survivor.hours.timezone", "Mars/Base"),
     "consent.contact_survivor.hours.timezone"),
    ("expired consent", _with("consent.share_profile.expires_at", "2001-01-01T00:00:00Z"),
     "consent.share_profile.expires_at"),
    ("consent without end", _with("consent.share_contact.expires_at", None),
     "consent.share_contact.expires_at"),
    ("contact consent without hours", _with("consent.contact_survivor.hours", None),
     "consent.contact_survivor"),
    ("right to revoke not explained", _with("consent.explained_right_to_revoke", False),
     "consent.explained_right_to_revoke"),
    ("bad phone", _with("contact.phone", CANARY), "contact.phone"),
    ("sms consent without a phone", _with("contact", {"name": CANARY}), "contact.phone"),
    ("huge string", _with("contact.name", CANARY * 1000), "contact.name"),
]


@pytest.mark.parametrize(("name", "body", "field"), CASES, ids=[c[0] for c in CASES])
def test_bad_referral_gets_a_useful_4xx(intake: Intake, name: str, body: Any,
                                        field: str) -> None:
    answer = intake.client.post("/api/v1/referrals", json=body,
                                headers=intake.members["outreach"].headers)
    assert 400 <= answer.status_code < 500, (name, answer.status_code, answer.text[:300])
    payload = answer.json()
    assert payload["detail"], name
    if field:
        assert field in [e["field"] for e in payload.get("errors", [])], payload
    assert CANARY not in answer.text, "personal data must not be echoed in errors"


DEEP = b'{"needs": ["legal_aid"], "preferences": ' + b"[" * 5000 + b"]" * 5000 + b"}"


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe\x00garbage", b"[]", b"",
                                 b"[" * 100_000, DEEP],
                         ids=["broken", "bad-utf8", "array", "empty", "brackets", "deep"])
def test_unparseable_bodies(intake: Intake, raw: bytes) -> None:
    answer = intake.client.post("/api/v1/referrals", content=raw,
                                headers={**intake.members["outreach"].headers,
                                         "Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500, answer.text[:300]
    assert answer.json()["detail"]


def test_oversized_body_is_refused_before_parsing(intake: Intake) -> None:
    body = _with("preferences", ["x" * 1000] * 2000)
    answer = intake.client.post("/api/v1/referrals", json=body,
                                headers=intake.members["outreach"].headers)
    assert answer.status_code == 413
    assert "too large" in answer.json()["detail"]


def test_idempotency_key_makes_retries_safe(intake: Intake) -> None:
    headers = {**intake.members["outreach"].headers, "Idempotency-Key": "call-42-attempt"}
    first = intake.client.post("/api/v1/referrals", json=referral_body(), headers=headers)
    again = intake.client.post("/api/v1/referrals", json=referral_body(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    listed = intake.client.get("/api/v1/referrals", headers=intake.members["outreach"].headers)
    assert [r["id"] for r in listed.json()].count(first.json()["id"]) == 1
    changed = intake.client.post("/api/v1/referrals", json=referral_body(urgency="planned"),
                                 headers=headers)
    assert changed.status_code == 409
    assert "Idempotency-Key" in changed.json()["detail"]


def test_referral_without_any_consent_is_still_accepted(intake: Intake) -> None:
    body = referral_body(contact=None, consent={})
    answer = intake.client.post("/api/v1/referrals", json=body,
                                headers=intake.members["outreach"].headers)
    assert answer.status_code == 201, answer.text
    detail = intake.client.get(f"/api/v1/referrals/{answer.json()['id']}",
                               headers=intake.members["outreach"].headers).json()
    assert detail["consents"] == {"share_profile": False, "share_contact": False,
                                  "contact_survivor": False}


def test_the_same_idempotency_key_at_the_same_moment_never_gives_a_500(intake: Intake) -> None:
    from concurrent.futures import ThreadPoolExecutor

    headers = {**intake.members["outreach"].headers, "Idempotency-Key": "race-key-1"}

    def send(_: int) -> tuple[int, str]:
        answer = intake.client.post("/api/v1/referrals", json=referral_body(), headers=headers)
        return answer.status_code, answer.json().get("id", "")

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(send, range(6)))
    assert {code for code, _ in results} <= {200, 201, 409}, results
    assert len({referral for code, referral in results if code < 300}) == 1


@pytest.mark.parametrize(("body", "field", "words"), [
    (_with("eligibility.age", "about twenty"), "eligibility.age",
     "must be a whole number, such as 30"),
    (_with("location.max_distance_km", 0), "location.max_distance_km", "must be 1 or more"),
    (_with("urgency", "asap"), "urgency", "must be one of"),
])
def test_the_api_says_what_is_wrong_in_plain_words(intake: Intake, body: Any, field: str,
                                                  words: str) -> None:
    """Issue 19, defect 11: not the validator's code-speak ("Input should be a valid
    integer, unable to parse string as an integer"), and never the value sent."""
    answer = intake.client.post("/api/v1/referrals", json=body,
                                headers=intake.members["outreach"].headers)
    assert answer.status_code == 422, answer.text
    [problem] = [e for e in answer.json()["errors"] if e["field"] == field]
    assert words in problem["message"] and "Input should" not in answer.text
    assert "about twenty" not in answer.text and "asap" not in answer.text
