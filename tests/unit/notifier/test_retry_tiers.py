"""Retries travel one topic per attempt, so a long backoff never holds back a short one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifier.app import CONSUMED
from shared import topics
from shared.events import NotificationRetryScheduled, PlannedNotification
from shared.records import RecordCodec
from shared.settings import NotifierSettings, SettingsError

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _retry(attempt: int) -> NotificationRetryScheduled:
    referral = uuid.uuid4()
    return NotificationRetryScheduled(
        referral_id=referral, attempt=attempt, due_at=NOW, notification=PlannedNotification(
            notification_id="ntf-" + "0" * 16, cause_id="cause", referral_id=referral,
            audience="outreach", recipient="org:x", channel="email", template="placed",
            language="en", not_before=NOW))


@given(st.integers(min_value=1, max_value=len(topics.NOTIFICATION_RETRY_TIERS)))
def test_the_nth_retry_is_published_on_the_nth_retry_topic(attempt: int) -> None:
    retry = _retry(attempt)
    record = RecordCodec(source="/test").encode(retry)
    assert record.topic == f"notification.retries.{attempt}"
    assert record.key == str(retry.referral_id).encode()  # still ordered per referral


def test_every_retry_topic_is_declared_consumed_and_has_its_own_dead_letters() -> None:
    names = [tier.name for tier in topics.NOTIFICATION_RETRY_TIERS]
    assert len(set(names)) == len(names) == 3
    assert set(names) <= {spec.name for spec in CONSUMED}
    assert {tier.dead_letter for tier in topics.NOTIFICATION_RETRY_TIERS} <= set(topics.BY_NAME)
    # Failed for good, whichever tier it came from: one topic for admins.
    assert topics.NOTIFICATION_FAILURES.name == "notification.retries.dlq"
    assert topics.NOTIFICATION_FAILURES in topics.CATALOG


def test_more_delays_than_retry_topics_is_refused_with_a_reason() -> None:
    assert NotifierSettings(retry_delays_s=[1.0, 5.0, 30.0]).retry_delays_s == [1.0, 5.0, 30.0]
    assert NotifierSettings(retry_delays_s=[]).retry_delays_s == []
    with pytest.raises(SettingsError, match="at most 3 retry delays"):
        NotifierSettings(retry_delays_s=[1.0, 2.0, 3.0, 4.0])
    with pytest.raises(SettingsError, match="0 to 300 seconds"):
        NotifierSettings(retry_delays_s=[1.0, 900.0])
