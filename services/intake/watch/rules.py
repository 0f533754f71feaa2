"""What is stuck and what to do about it: pure, so the rule reads in one place.

A submission matching has not answered (the referral still `submitted`) for
`silent_after` is sent again: the same outbox record with the same event id, so a
consumer that did get it drops the repeat and one that missed it (a lost offset, a
restart) processes it now. Still silent `alert_after` later, it is alerted: admins
see it on the dashboard and the outreach worker on the referral's page.

A placement the survivor should hear of (contact consent now, on a channel the
notifier writes on) with no outcome reported for the survivor's message (sent,
held, cancelled or failed) after `silent_after + alert_after` is alerted the same
way; intake owns no record that could make the notifier plan it again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Step = Literal["resend", "alert"]
Stuck = Literal["matching", "survivor_message"]


@dataclass(frozen=True)
class WatchPolicy:
    silent_after: timedelta
    alert_after: timedelta


@dataclass(frozen=True)
class Submission:
    """A referral as the watch sees it: submitted when, answered or not, what was done."""

    referral_id: uuid.UUID
    submitted_at: datetime
    answered: bool  # matching sent a status
    resent_at: datetime | None = None
    alerted: bool = False


@dataclass(frozen=True)
class Placement:
    """A placed referral: is a survivor message due, and did the notifier report it."""

    referral_id: uuid.UUID
    placed_at: datetime
    survivor_due: bool  # contact consent in force on a channel the notifier writes on
    survivor_reported: bool  # an outcome for the survivor's message arrived
    alerted: bool = False


@dataclass(frozen=True)
class Action:
    referral_id: uuid.UUID
    step: Step
    stuck: Stuck
    since: datetime


def about_submission(submission: Submission, *, now: datetime, policy: WatchPolicy,
                     view_since: datetime | None = None) -> Action | None:
    """Send again once after `silent_after`; alert once `alert_after` after that.

    Silence counts only while intake's view is current (`view_since`: since when its
    projection has read everything matching published). After an intake restart the
    projection catches up first, and a status it has not read yet is not silence:
    judging by it sent 210 of 249 submissions again in a kill loop (issue 18).
    """
    if submission.answered or submission.alerted:
        return None
    if submission.resent_at is None:
        if now - _later(submission.submitted_at, view_since) < policy.silent_after:
            return None
        return Action(submission.referral_id, "resend", "matching", submission.submitted_at)
    if now - _later(submission.resent_at, view_since) < policy.alert_after:
        return None
    return Action(submission.referral_id, "alert", "matching", submission.submitted_at)


def _later(moment: datetime, view_since: datetime | None) -> datetime:
    return moment if view_since is None else max(moment, view_since)


def about_placement(placement: Placement, *, now: datetime,
                    policy: WatchPolicy) -> Action | None:
    """Alert once when the survivor's message went unreported for the whole watch."""
    if (placement.alerted or not placement.survivor_due or placement.survivor_reported
            or now - placement.placed_at < policy.silent_after + policy.alert_after):
        return None
    return Action(placement.referral_id, "alert", "survivor_message", placement.placed_at)


def still_stuck(fact: Submission | Placement) -> bool:
    """An alert stays open while its cause does: no status yet, or no report yet."""
    if isinstance(fact, Submission):
        return fact.alerted and not fact.answered
    return fact.alerted and fact.survivor_due and not fact.survivor_reported
