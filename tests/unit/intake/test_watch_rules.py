"""Nothing stuck silently: when a referral is sent again, when it is alerted, when never."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.intake.watch.rules import (
    Placement,
    Submission,
    WatchPolicy,
    about_placement,
    about_submission,
    still_stuck,
)

T0 = datetime(2026, 12, 3, 9, tzinfo=UTC)
POLICY = WatchPolicy(silent_after=timedelta(seconds=60), alert_after=timedelta(seconds=120))
REFERRAL = uuid.UUID(int=5)


def _submission(**changes: object) -> Submission:
    fields: dict[str, object] = {"referral_id": REFERRAL, "submitted_at": T0,
                                 "answered": False, **changes}
    return Submission(**fields)  # type: ignore[arg-type]


def _placement(**changes: object) -> Placement:
    fields: dict[str, object] = {"referral_id": REFERRAL, "placed_at": T0, "survivor_due": True,
                                 "survivor_reported": False, **changes}
    return Placement(**fields)  # type: ignore[arg-type]


def test_a_silent_submission_is_sent_again_then_alerted_once() -> None:
    assert about_submission(_submission(), now=T0 + timedelta(seconds=59), policy=POLICY) is None
    resend = about_submission(_submission(), now=T0 + timedelta(seconds=60), policy=POLICY)
    assert resend is not None and (resend.step, resend.stuck, resend.since) == (
        "resend", "matching", T0)
    resent_at = T0 + timedelta(seconds=61)
    waiting = _submission(resent_at=resent_at)
    assert about_submission(waiting, now=resent_at + timedelta(seconds=119),
                            policy=POLICY) is None, "a further period after sending again"
    alert = about_submission(waiting, now=resent_at + timedelta(seconds=120), policy=POLICY)
    assert alert is not None and (alert.step, alert.stuck, alert.since) == (
        "alert", "matching", T0)
    alerted = _submission(resent_at=resent_at, alerted=True)
    assert about_submission(alerted, now=T0 + timedelta(days=1), policy=POLICY) is None
    assert still_stuck(alerted) and not still_stuck(
        _submission(resent_at=resent_at, alerted=True, answered=True))


def test_an_answered_submission_is_never_sent_again() -> None:
    assert about_submission(_submission(answered=True), now=T0 + timedelta(days=3),
                            policy=POLICY) is None


def test_a_placement_whose_survivor_message_went_unreported_is_alerted() -> None:
    whole_watch = T0 + timedelta(seconds=180)
    assert about_placement(_placement(), now=whole_watch - timedelta(seconds=1),
                           policy=POLICY) is None
    alert = about_placement(_placement(), now=whole_watch, policy=POLICY)
    assert alert is not None and (alert.step, alert.stuck) == ("alert", "survivor_message")
    for settled in (_placement(survivor_reported=True), _placement(survivor_due=False),
                    _placement(alerted=True)):
        assert about_placement(settled, now=T0 + timedelta(days=1), policy=POLICY) is None
    assert still_stuck(_placement(alerted=True))
    assert not still_stuck(_placement(alerted=True, survivor_reported=True))


@given(answered=st.booleans(), resent=st.booleans(), alerted=st.booleans(),
       seconds=st.integers(min_value=0, max_value=10_000))
def test_sent_again_at_most_once_and_only_before_an_alert(
        answered: bool, resent: bool, alerted: bool, seconds: int) -> None:
    submission = _submission(answered=answered, alerted=alerted,
                             resent_at=T0 + timedelta(seconds=60) if resent else None)
    action = about_submission(submission, now=T0 + timedelta(seconds=seconds), policy=POLICY)
    if answered or alerted:
        assert action is None
    elif action is not None:
        assert action.step == ("alert" if resent else "resend")
        assert seconds >= (180 if resent else 60)


def test_silence_counts_only_from_when_intakes_view_became_current() -> None:
    """After an intake restart its projection catches up first: a submission from before
    is not sent again until `silent_after` has passed with the view current (issue 18)."""
    caught_up = T0 + timedelta(minutes=5)
    just_after = caught_up + timedelta(seconds=30)
    assert about_submission(_submission(), now=just_after, policy=POLICY,
                            view_since=caught_up) is None
    assert about_submission(_submission(), now=just_after, policy=POLICY) is not None
    resend = about_submission(_submission(), now=caught_up + timedelta(seconds=60),
                              policy=POLICY, view_since=caught_up)
    assert resend is not None and resend.step == "resend" and resend.since == T0


def test_an_alert_waits_for_the_view_too() -> None:
    resent = _submission(resent_at=T0 + timedelta(seconds=60))
    caught_up = T0 + timedelta(minutes=10)
    assert about_submission(resent, now=caught_up + timedelta(seconds=119), policy=POLICY,
                            view_since=caught_up) is None
    alert = about_submission(resent, now=caught_up + timedelta(seconds=120), policy=POLICY,
                             view_since=caught_up)
    assert alert is not None and alert.step == "alert"
