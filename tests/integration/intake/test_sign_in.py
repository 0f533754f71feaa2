"""Sign-in with password and, once enrolled, a TOTP code."""

from __future__ import annotations

import pyotp

from tests.support.intake import PASSWORD, Intake


def _sign_in(intake: Intake, username: str, **extra: str) -> int:
    data = {"username": username, "password": PASSWORD, **extra}
    return intake.client.post("/api/v1/auth/token", data=data).status_code


def test_wrong_password_and_unknown_user_look_the_same(intake: Intake) -> None:
    member = intake.members["provider"]
    wrong = intake.client.post("/api/v1/auth/token",
                               data={"username": member.username, "password": "nope"})
    unknown = intake.client.post("/api/v1/auth/token",
                                 data={"username": "nobody-here", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_totp_enrolment_then_codes_are_required(intake: Intake) -> None:
    member = intake.members["provider"]
    enrolled = intake.client.post("/api/v1/me/totp", headers=member.headers)
    assert enrolled.status_code == 201
    totp = pyotp.TOTP(enrolled.json()["secret"])
    assert _sign_in(intake, member.username) == 200, "not required before confirmation"
    refused = intake.client.post("/api/v1/me/totp/confirm", headers=member.headers,
                                 json={"code": "000000" if totp.now() != "000000" else "111111"})
    assert refused.status_code == 422
    confirmed = intake.client.post("/api/v1/me/totp/confirm", headers=member.headers,
                                   json={"code": totp.now()})
    assert confirmed.status_code == 204
    assert _sign_in(intake, member.username) == 401
    assert _sign_in(intake, member.username, totp=totp.now()) == 200
