"""Who may read which event, and who may write it: the access contract, in two tables.

Events about a referral are sealed for exactly these readers; directory and
capacity events carry no personal data (confidential addresses never enter
them) and are signed but not sealed. So is the erasure event: it carries only
the referral id, and sealing it would mint new grants for a referral whose
grants are being destroyed. Capacity holds and delivery outcomes carry only ids
and codes and are keyed by service or notification, not by referral, so they
are signed only too: a sealed event's subject must be its referral id, because
that is how a reader finds the referral key before it can read anything.
Service owners are `service:<name>`; organizations are `org:<uuid>`.
"""

from __future__ import annotations

from typing import Any

INTAKE = "service:intake"
MATCHING = "service:matching"
NOTIFIER = "service:notifier"
SERVICES = (INTAKE, MATCHING, NOTIFIER)

# event type -> {view name -> readers}; "org:{organization_id}" is filled from the event.
_POLICY: dict[str, dict[str, tuple[str, ...]]] = {
    "org.haven.referral.submitted.v1": {"matching_profile": (MATCHING, NOTIFIER, INTAKE)},
    "org.haven.referral.status_changed.v1": {"status": SERVICES},
    "org.haven.consent.changed.v1": {"consent": SERVICES},
    "org.haven.referral.offer_made.v1": {
        "offer_summary": (NOTIFIER, INTAKE, MATCHING, "org:{organization_id}")},
    "org.haven.referral.offer_closed.v1": {
        "offer_outcome": (NOTIFIER, INTAKE, MATCHING, "org:{organization_id}")},
    "org.haven.referral.offer_accepted.v1": {"response": (MATCHING, INTAKE, NOTIFIER)},
    "org.haven.referral.offer_declined.v1": {"response": (MATCHING, INTAKE, NOTIFIER)},
    "org.haven.referral.placement_chosen.v1": {"response": (MATCHING, INTAKE, NOTIFIER)},
    "org.haven.referral.placement_declined.v1": {"response": (MATCHING, INTAKE, NOTIFIER)},
    "org.haven.referral.stalled.v1": {"status": SERVICES},
    # The survivor's address and safe hours: the notifier sends, intake shows; nobody else.
    "org.haven.consent.contact_terms_set.v1": {"contact_terms": (NOTIFIER, INTAKE)},
    "org.haven.notification.retry_scheduled.v1": {"notification": (NOTIFIER,)},
    "org.haven.notification.inbox_posted.v1": {"inbox": (INTAKE, "org:{organization_id}")},
}


SEALED_TYPES = frozenset(_POLICY)

# event type -> the one service that may sign it. A valid signature by another service
# is still refused: a compromised matching must not post inbox messages, a compromised
# notifier must not place anyone.
_PRODUCERS: dict[str, str] = {
    **dict.fromkeys((
        "org.haven.referral.submitted.v1", "org.haven.consent.changed.v1",
        "org.haven.referral.erased.v1", "org.haven.consent.contact_terms_set.v1",
        "org.haven.referral.offer_accepted.v1", "org.haven.referral.offer_declined.v1",
        "org.haven.referral.placement_chosen.v1", "org.haven.referral.placement_declined.v1",
        "org.haven.directory.organization_upserted.v1", "org.haven.directory.service_upserted.v1",
        "org.haven.capacity.updated.v1",
        "org.haven.capacity.confirmation_due.v1"), INTAKE),
    **dict.fromkeys((
        "org.haven.referral.status_changed.v1", "org.haven.referral.stalled.v1",
        "org.haven.referral.offer_made.v1", "org.haven.referral.offer_closed.v1",
        "org.haven.referral.erasure_applied.v1", "org.haven.capacity.hold_requested.v1",
        "org.haven.capacity.hold_released.v1",
        "org.haven.capacity.placement_confirmed.v1", "org.haven.capacity.observed.v1",
        "org.haven.capacity.counted.v1",
        "org.haven.matching.hold_decided.v1", "org.haven.matching.offer_timed_out.v1",
        "org.haven.matching.deadline_reached.v1"), MATCHING),
    **dict.fromkeys((
        "org.haven.notification.retry_scheduled.v1", "org.haven.notification.alert_raised.v1",
        "org.haven.notification.inbox_posted.v1", "org.haven.notification.delivered.v1",
        "org.haven.notification.delivered.v2"),
        NOTIFIER),
}


PRODUCED_TYPES = frozenset(_PRODUCERS)


def producer_of(event_type: str) -> str | None:
    """The service that may sign events of this type; None for a type nobody may send."""
    return _PRODUCERS.get(event_type)


def views_for(event_type: str, body: dict[str, Any]) -> dict[str, tuple[str, ...]] | None:
    """Readers per view for a sealed event type, or None when the type is only signed."""
    policy = _POLICY.get(event_type)
    if policy is None:
        return None
    return {view: tuple(reader.format(**body) for reader in readers)
            for view, readers in policy.items()}


def referral_of(event_type: str, body: dict[str, Any]) -> str | None:
    """The referral an event's keys belong to (erasure shreds them together)."""
    referral = body.get("referral_id")
    return str(referral) if referral is not None and event_type in _POLICY else None
