"""Who hears what, on which channel, and when: the notifier's decisions, pure.

Provider staff hear of a new offer (de-identified summary and a link, never
contact details). Outreach workers hear how their referral goes. The survivor
hears only that something is ready, only with contact consent, only on the
channel they chose, only inside their safe hours, in their language, in words
that name no organization or purpose unless they allowed it. `gate` is asked
again right before sending, so a revocation stops what is already queued.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from services.notifier.hours import next_allowed, within
from services.notifier.model import (
    LANGUAGES,
    Endpoints,
    ReferralFacts,
    SurvivorConsent,
    notification_id,
    survivor_recipient,
)
from shared.events import PlannedNotification
from shared.references import referral_reference

# (status, reason) of ReferralStatusChanged -> what the outreach worker is told.
OUTREACH_TEMPLATES = {"offered": "outreach_offered", "placed": "outreach_accepted",
                      "waitlisted": "outreach_waitlisted", "returned": "outreach_no_match",
                      # parallel mode: several providers said yes, the person chooses
                      "accepted": "outreach_choose",
                      # ReferralStalled, planned with the stalled status as the reason
                      "stalled": "outreach_stalled"}
SURVIVOR_STATUSES = frozenset({"placed"})  # tell the person only when something is ready
REMINDER_LEAD = timedelta(minutes=30)  # staff are reminded this long before an offer expires


@dataclass(frozen=True)
class OfferFacts:
    """The parts of an OfferMade the staff message may show."""

    offer_id: str
    referral_id: str
    organization_id: str
    expires_at: datetime


@dataclass(frozen=True)
class OutreachTold:
    """The last status an outreach team was told of, and the event (cause) that told it."""

    status: str
    cause_id: str


def tells_outreach(status: str, cause_id: str, told: OutreachTold | None) -> bool:
    """Only a change of status is news for the outreach team: a referral that stays offered
    while offers come and go is not told "offered" again. A stall is an alert (one per
    stay), always told. The same cause again is a redelivery, planned again so a crash
    between recording and sending loses nothing (the delivery log sends it once)."""
    return (status == "stalled" or told is None or told.status != status
            or told.cause_id == cause_id)


@dataclass(frozen=True)
class Gate:
    """The verdict right before sending: send now, hold until a time, or cancel."""

    action: Literal["send", "hold", "cancel"]
    until: datetime | None = None


def plan_offer(*, cause_id: str, offer: OfferFacts, facts: ReferralFacts | None,
               directory: Mapping[str, Endpoints], link_base: str,
               now: datetime) -> list[PlannedNotification]:
    """Provider staff of the offered organization: a de-identified summary and a link."""
    endpoints = directory.get(offer.organization_id)
    if endpoints is None:
        return []
    fields = {"organization": endpoints.name, "expires_at": offer.expires_at.isoformat(),
              "link": f"{link_base.rstrip('/')}/provider/offers#offer-{offer.offer_id}",
              "urgency": facts.urgency if facts else "", "needs": ", ".join(facts.needs)
              if facts else ""}
    planned = _to_organization(cause_id, offer.referral_id, "provider", endpoints,
                               "provider_offer", fields, now)
    remind_at = offer.expires_at - min(REMINDER_LEAD, (offer.expires_at - now) / 4)
    if remind_at > now:  # an offer that is almost gone already gets no reminder
        planned += _to_organization(expiring_cause(offer.offer_id), offer.referral_id,
                                    "provider", endpoints, "provider_offer_expiring", fields,
                                    remind_at)
    return planned


def expiring_cause(offer_id: str) -> str:
    """The reminder's cause is the offer itself, so closing the offer can find and cancel it."""
    return f"offer:{offer_id}:expiring"


def expiring_reminders(offer_id: str, organization: Endpoints) -> list[str]:
    """Ids of the reminders an offer may have planned (to cancel them when it closes)."""
    recipient = f"org:{organization.organization_id}"
    return [notification_id(expiring_cause(offer_id), recipient, channel)
            for channel in organization.channels()]


def plan_capacity_reminder(*, cause_id: str, organization_id: str, confirmed_at: datetime,
                           directory: Mapping[str, Endpoints], link_base: str,
                           now: datetime) -> list[PlannedNotification]:
    """Staff whose open places were not confirmed for too long: please confirm them.

    About no referral, so not through the inbox (an inbox message is sealed per referral).
    """
    endpoints = directory.get(organization_id)
    if endpoints is None:
        return []
    fields = {"organization": endpoints.name, "confirmed_at": confirmed_at.isoformat(),
              "link": f"{link_base.rstrip('/')}/provider/capacity"}
    return [plan for plan in _to_organization(cause_id, None, "provider", endpoints,
                                              "provider_capacity_reminder", fields, now)
            if plan.channel != "inbox"]


def plan_status(*, cause_id: str, referral_id: str, status: str, reason: str,
                facts: ReferralFacts | None, consent: SurvivorConsent,
                directory: Mapping[str, Endpoints], now: datetime, link_base: str = "",
                told: OutreachTold | None = None) -> list[PlannedNotification]:
    """The outreach worker hears every change of status that matters (`told`: what they
    were told last), with the referral's short reference and a link to its page; the
    survivor only good news, naming nothing."""
    planned: list[PlannedNotification] = []
    template = ("outreach_declined" if reason.startswith("declined_")
                else OUTREACH_TEMPLATES.get(status) if reason != "ranked" else None)
    outreach = directory.get(facts.outreach_organization_id) if facts else None
    if (template is not None and outreach is not None
            and tells_outreach(status, cause_id, told)):
        fields = {"organization": outreach.name, "reason": reason,
                  "reference": referral_reference(referral_id),
                  "link": f"{link_base.rstrip('/')}/outreach/referrals/{referral_id}"}
        planned += _to_organization(cause_id, referral_id, "outreach", outreach, template,
                                    fields, now)
    if status in SURVIVOR_STATUSES:
        survivor = plan_survivor(cause_id=cause_id, referral_id=referral_id, consent=consent,
                                 referrer=outreach, now=now)
        planned += [survivor] if survivor is not None else []
    return planned


def plan_survivor(*, cause_id: str, referral_id: str, consent: SurvivorConsent,
                  referrer: Endpoints | None, now: datetime) -> PlannedNotification | None:
    """One discreet message on the chosen channel, due at the next safe moment; or nothing."""
    terms = consent.terms
    if not consent.allows_contact(now) or terms is None or terms.channel == "phone_call":
        return None  # no consent, or a call: people place calls, the notifier does not
    fields: dict[str, str] = {}
    if terms.cover_story:
        fields["sender"] = terms.cover_story
    if terms.may_name_organization and referrer is not None:
        fields["organization"] = referrer.name
    recipient = survivor_recipient(referral_id)
    return PlannedNotification(
        notification_id=notification_id(cause_id, recipient, terms.channel),
        cause_id=cause_id, referral_id=referral_id, audience="survivor", recipient=recipient,
        channel=terms.channel, template="survivor_update", language=_language(terms.language),
        fields=fields, not_before=next_allowed(terms.hours, now))


def terms_supersede(incoming: datetime, *, stored: datetime | None,
                    decided: datetime | None) -> bool:
    """Do terms set at `incoming` replace what the notifier holds?

    Not when the terms held are newer (a late or replayed record), nor when a later
    decision (a withdrawal) came after them. Equal times are the same terms read
    again after a crash: applied again, which changes nothing twice.
    """
    return (stored is None or incoming >= stored) and (decided is None or incoming >= decided)


def follow_terms(waiting: list[PlannedNotification], consent: SurvivorConsent,
                 now: datetime) -> list[tuple[str, PlannedNotification | None]]:
    """Survivor messages that have not gone out follow new terms: each is planned again
    (another channel gives another id, new hours another time), or None when the terms
    no longer allow it (a phone call, or consent that ended)."""
    return [(plan.notification_id, plan_survivor(
        cause_id=plan.cause_id, referral_id=str(plan.referral_id), consent=consent,
        referrer=None, now=now)) for plan in waiting if plan.audience == "survivor"]


def gate(notification: PlannedNotification, consent: SurvivorConsent, now: datetime) -> Gate:
    """Checked at the moment of sending: consent still given, same channel, safe hours."""
    if notification.audience != "survivor":
        return Gate("send") if now >= notification.not_before else Gate(
            "hold", notification.not_before)
    terms = consent.terms
    if not consent.allows_contact(now) or terms is None or terms.channel != notification.channel:
        return Gate("cancel")
    if notification.fields.get("organization") and not terms.may_name_organization:
        return Gate("cancel")  # the terms narrowed since it was planned
    if now < notification.not_before or not within(terms.hours, now):
        return Gate("hold", max(notification.not_before, next_allowed(terms.hours, now)))
    return Gate("send")


def _to_organization(cause_id: str, referral_id: str | None,
                     audience: Literal["provider", "outreach"],
                     endpoints: Endpoints, template: str, fields: dict[str, str],
                     now: datetime) -> list[PlannedNotification]:
    recipient = f"org:{endpoints.organization_id}"
    return [PlannedNotification(
        notification_id=notification_id(cause_id, recipient, channel), cause_id=cause_id,
        referral_id=referral_id, audience=audience, recipient=recipient, channel=channel,
        template=template, language=_language(endpoints.language), fields=fields,
        not_before=now) for channel in endpoints.channels()]


def _language(wanted: str) -> str:
    """Their language when we have templates in it, else English."""
    return wanted if wanted in LANGUAGES else "en"


