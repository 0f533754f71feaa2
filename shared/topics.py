"""The topic catalog: the one place that names Haven's topics and how Kafka keeps them.

`haven topics create` makes the broker match this file; services refer to topics
through these constants, never through string literals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DAY_MS = 24 * 60 * 60 * 1000

Cleanup = Literal["delete", "compact"]


@dataclass(frozen=True)
class TopicSpec:
    """A topic, what its record key means, and its retention."""

    name: str
    key: str
    purpose: str
    partitions: int = 6
    cleanup: Cleanup = "delete"
    retention_ms: int | None = 14 * DAY_MS
    extra_config: dict[str, str] = field(default_factory=dict)

    @property
    def dead_letter(self) -> str:
        return dead_letter_name(self.name)

    def config(self) -> dict[str, str]:
        """Broker-side topic configuration, as strings the admin API expects."""
        settings = {"cleanup.policy": self.cleanup, "min.insync.replicas": "1"}
        if self.cleanup == "delete" and self.retention_ms is not None:
            settings["retention.ms"] = str(self.retention_ms)
        return settings | self.extra_config


def dead_letter_name(topic: str) -> str:
    """Dead letters of topic T go to T.dlq: one place for admins to look per source."""
    return f"{topic}.dlq"


def _compacted(name: str, key: str, purpose: str, partitions: int = 6) -> TopicSpec:
    return TopicSpec(
        name, key, purpose, partitions=partitions, cleanup="compact", retention_ms=None,
        # Tombstones must outlive a consumer's restart, not forever: erasure relies on them.
        extra_config={"delete.retention.ms": str(DAY_MS)},
    )


REFERRAL_SUBMITTED = TopicSpec(
    "referral.submitted", "referral id", "intake → matching: a new referral to match")
REFERRAL_KEYS = _compacted(
    "referral.keys", "referral id/recipient", "intake → all: per-referral keys; tombstones erase")
DIRECTORY_ORGANIZATIONS = _compacted(
    "directory.organizations", "organization id", "intake → matching, notifier", partitions=3)
DIRECTORY_SERVICES = _compacted(
    "directory.services", "service id", "intake → matching: services and eligibility",
    partitions=3)
CAPACITY_UPDATES = _compacted(
    "capacity.updates", "service id", "intake → matching: open places as staff report them")
CAPACITY_COUNTS = _compacted(
    "capacity.counts", "service id",
    "matching → intake: places held and placed per service, as the service's ledger counts")
CAPACITY_REMINDERS = TopicSpec(
    "capacity.reminders", "service id", "intake → notifier: capacity not confirmed for too long",
    partitions=3)
CAPACITY_RESERVATIONS = TopicSpec(
    "capacity.reservations", "service id", "matching → matching: holds, one owner per service")
MATCHING_COMMANDS = TopicSpec(
    "matching.commands", "referral id",
    "matching → matching: hold decisions and offer timeouts for the referral's owner")
REFERRAL_OFFERS = TopicSpec(
    "referral.offers", "referral id", "matching → notifier, intake: offers to providers")
REFERRAL_RESPONSES = TopicSpec(
    "referral.responses", "referral id", "intake → matching: providers' accept or decline")
REFERRAL_STATUS = TopicSpec(
    "referral.status", "referral id", "matching → intake, notifier: every state change")
CONSENT_CHANGES = TopicSpec(
    "consent.changes", "referral id", "intake → matching, notifier: grants, revocations")
NOTIFICATION_DELIVERIES = TopicSpec(
    "notification.deliveries", "notification id", "notifier → intake: delivery outcomes")
CONTACT_TERMS = TopicSpec(
    "consent.contact_terms", "referral id",
    "intake → notifier: how and when a survivor may be contacted (sealed for the notifier)")
# Retries after transient failures, one topic per attempt (tier): every record on a tier
# waits the same backoff, so a consumer sleeping until the head record is due never holds
# back a record due sooner. The notifier's RETRY_DELAYS_S has at most one delay per tier.
RETRIES_FAMILY = "notification.retries"
NOTIFICATION_RETRY_TIERS: tuple[TopicSpec, ...] = tuple(
    TopicSpec(f"{RETRIES_FAMILY}.{tier}", "referral id",
              f"notifier → notifier: retry number {tier} after a transient failure")
    for tier in (1, 2, 3))
NOTIFICATION_ALERTS = TopicSpec(
    "notification.alerts", "notification id",
    "notifier → admins: deliveries that failed for good or whose outcome is unknown")
NOTIFICATION_INBOX = TopicSpec(
    "notification.inbox", "referral id",
    "notifier → intake: in-app inbox messages for staff and outreach workers (sealed)")

DATA_TOPICS: tuple[TopicSpec, ...] = (
    REFERRAL_SUBMITTED, REFERRAL_KEYS, DIRECTORY_ORGANIZATIONS, DIRECTORY_SERVICES,
    CAPACITY_UPDATES, CAPACITY_COUNTS, CAPACITY_REMINDERS, CAPACITY_RESERVATIONS,
    MATCHING_COMMANDS, REFERRAL_OFFERS, REFERRAL_RESPONSES, REFERRAL_STATUS, CONSENT_CHANGES,
    NOTIFICATION_DELIVERIES,
    CONTACT_TERMS, *NOTIFICATION_RETRY_TIERS, NOTIFICATION_ALERTS, NOTIFICATION_INBOX,
)


def _dead_letter_spec(source: TopicSpec) -> TopicSpec:
    return TopicSpec(
        source.dead_letter, source.key, f"rejected records of {source.name}, with reasons",
        partitions=1, retention_ms=30 * DAY_MS,
    )


def state_topics(app_id: str = "haven-matching") -> tuple[TopicSpec, ...]:
    """Faust table changelogs (Faust names them "<app id>-<table>-changelog").

    Declared here because workers may not create topics. Values hold ids, states,
    codes and times only; nothing personal (services/matching/state.py).
    """
    return (
        _compacted(f"{app_id}-cases-changelog", "referral id",
                   "matching's referral cases (Faust table)"),
        _compacted(f"{app_id}-ledgers-changelog", "service id",
                   "matching's per-service holds and waitlists (Faust table)"),
    )


STATE_TOPICS = state_topics()

# Notifications that failed for good (after their last retry, or at once): one place for
# admins, whichever tier the last attempt came from. Sealed like the retry records.
NOTIFICATION_FAILURES = TopicSpec(
    dead_letter_name(RETRIES_FAMILY), "referral id",
    "notifier → admins: notifications that failed for good, sealed, with reasons",
    partitions=1, retention_ms=30 * DAY_MS)

CATALOG: tuple[TopicSpec, ...] = (DATA_TOPICS + STATE_TOPICS + (NOTIFICATION_FAILURES,)
                                  + tuple(_dead_letter_spec(t) for t in DATA_TOPICS))
BY_NAME: dict[str, TopicSpec] = {spec.name: spec for spec in CATALOG}
