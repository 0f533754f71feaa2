"""The notifier's use cases, one per kind of input event; agents only decode and call these.

Facts and consent are remembered in the delivery log's database; offers and
status changes are turned into plans (policy.py) and handed to the Deliverer.
A revocation, an expiry or an erasure cancels every survivor message that has
not gone out, at once; the gate in front of every send catches the rest.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from services.notifier import delivery_log as log
from services.notifier.delivery import Deliverer
from services.notifier.model import ContactHours, ReferralFacts, SurvivorConsent, SurvivorTerms
from services.notifier.policy import (
    OfferFacts,
    OutreachTold,
    expiring_reminders,
    follow_terms,
    plan_capacity_reminder,
    plan_offer,
    plan_status,
    terms_supersede,
)
from shared.events import (
    CapacityConfirmationDue,
    ConsentChanged,
    ContactTermsSet,
    ErasureApplied,
    NotificationDelivered,
    NotificationRetryScheduled,
    OfferClosed,
    OfferMade,
    PlannedNotification,
    ReferralErased,
    ReferralStalled,
    ReferralStatusChanged,
    ReferralSubmitted,
)
from shared.events.vocabulary import ConsentScope
from shared.settings import MAX_RETRY_DELAY_S

OpenTerms = Callable[[bytes, Sequence[tuple[str, bytes]]], Awaitable[ContactTermsSet | None]]


@dataclass
class Handlers:
    """Entry points for the agents and the timer."""

    deliverer: Deliverer
    open_terms: OpenTerms
    link_base: str
    wait_for_facts_s: float = 30.0

    @property
    def engine(self) -> Any:
        return self.deliverer.engine

    async def consent_of(self, referral_id: str) -> tuple[SurvivorConsent, str | None]:
        """Today's contact consent and the address, opened from the sealed terms just now."""
        row = log.contact(self.engine, referral_id)
        if row is None:
            return SurvivorConsent(), None
        consent = SurvivorConsent(granted=row.granted, expires_at=_aware(row.expires_at))
        if row.terms_value is None:
            return consent, None
        headers = [(name, bytes.fromhex(value)) for name, value in json.loads(row.terms_headers)]
        terms = await self.open_terms(row.terms_value, headers)
        if terms is None:
            return SurvivorConsent(), None  # unreadable (erased): as good as no consent
        return consent.with_terms(_terms(terms)), terms.address

    async def referral_submitted(self, event: ReferralSubmitted) -> None:
        referral = str(event.referral_id)
        log.remember_referral(self.engine, log.ReferralRow(
            referral_id=referral, outreach_organization_id=str(event.outreach_organization_id),
            urgency=event.profile.urgency.value,
            needs=",".join(need.value for need in event.profile.needs)))
        for grant in event.consents:
            if grant.scope is ConsentScope.CONTACT_SURVIVOR:
                await self._decide(referral, grant.granted, grant.expires_at, event.submitted_at)

    async def consent_changed(self, event: ConsentChanged) -> None:
        if event.grant.scope is ConsentScope.CONTACT_SURVIVOR:
            await self._decide(str(event.referral_id), event.grant.granted,
                               event.grant.expires_at, event.changed_at)

    async def terms_set(self, event: ContactTermsSet, value: bytes,
                        headers: Sequence[tuple[str, bytes]]) -> None:
        """Keep the newest sealed record itself (the address is opened only when a message
        goes); messages still waiting move to the new channel or hours with it."""
        referral = str(event.referral_id)
        row = log.contact(self.engine, referral)
        if row is not None and not terms_supersede(
                event.set_at, stored=_aware(row.terms_set_at), decided=_aware(row.changed_at)):
            return  # older than the terms or the withdrawal we hold: a late or replayed record
        row = row or log.ContactRow(referral_id=referral, changed_at=event.set_at)
        row.terms_value, row.terms_set_at = value, event.set_at
        row.terms_headers = json.dumps([[name, bytes(raw).hex()] for name, raw in headers])
        consent = SurvivorConsent(granted=row.granted, expires_at=_aware(row.expires_at))
        waiting = [PlannedNotification.model_validate_json(d.plan)
                   for d in log.waiting_survivor(self.engine, referral) if d.plan]
        moves = follow_terms(waiting, consent.with_terms(_terms(event)), self.deliverer.clock())
        await self._announce_cancelled(referral, log.save_terms(self.engine, row, moves))

    async def erased(self, event: ReferralErased) -> None:
        """Nothing about an erased referral goes out any more, to anyone; decided here, from
        the erasure's id alone, before its keys are gone."""
        referral = str(event.referral_id)
        await self._announce_cancelled(referral, log.cancel_waiting(self.engine, referral))
        log.forget_referral(self.engine, referral, erased_at=event.erased_at)

    async def erasure_applied(self, event: ErasureApplied) -> None:
        """Matching withdrew these offers on erasure: their reminders are cancelled (ids only;
        on the offers' own topic, so it comes after any offer made before the erasure)."""
        for offer in event.withdrawn:
            self._cancel_reminders(str(offer.offer_id), str(offer.organization_id),
                                   str(event.referral_id))

    async def _facts_of(self, referral: str) -> log.ReferralRow | None:
        """The referral's facts, waiting a little for its submission and contact terms.

        They travel on other topics than offers and statuses, so they may not have
        been read yet; planning without them would silently skip the outreach
        worker and the survivor.
        """
        deadline = asyncio.get_running_loop().time() + self.wait_for_facts_s
        while True:
            facts = log.referral(self.engine, referral)
            contact = log.contact(self.engine, referral)
            terms_pending = contact is not None and contact.granted and not contact.terms_value
            if (facts is not None and not terms_pending) or (
                    asyncio.get_running_loop().time() > deadline):
                return facts
            await asyncio.sleep(0.05)

    async def offer_made(self, event: OfferMade, cause_id: str) -> None:
        if log.erased(self.engine, str(event.referral_id)):
            return  # read after its erasure: nobody is told of an offer that is gone
        facts = await self._facts_of(str(event.referral_id))
        plans = plan_offer(cause_id=cause_id, offer=OfferFacts(
            str(event.offer_id), str(event.referral_id), str(event.organization_id),
            event.expires_at), facts=_facts(facts), directory=self.deliverer.directory,
            link_base=self.link_base, now=self.deliverer.clock())
        await self._deliver_all(plans)

    async def offer_closed(self, event: OfferClosed) -> None:
        """A closed offer needs no reminder: cancel it, or mark it cancelled before it exists."""
        self._cancel_reminders(str(event.offer_id), str(event.organization_id),
                               str(event.referral_id))

    def _cancel_reminders(self, offer_id: str, organization_id: str, referral: str) -> None:
        endpoints = self.deliverer.directory.get(organization_id)
        if endpoints is None:
            return
        ids = expiring_reminders(offer_id, endpoints)
        for notification, channel in zip(ids, endpoints.channels(), strict=True):
            row = log.get(self.engine, notification)
            if row is None or row.state in ("held", "retrying"):
                log.settle(self.engine, notification, "cancelled", referral_id=referral,
                           audience="provider", channel=channel)

    async def capacity_due(self, event: CapacityConfirmationDue, cause_id: str) -> None:
        """Staff are asked to confirm open places that nobody confirmed for too long."""
        await self._deliver_all(plan_capacity_reminder(
            cause_id=cause_id, organization_id=str(event.organization_id),
            confirmed_at=event.confirmed_at, directory=self.deliverer.directory,
            link_base=self.link_base, now=self.deliverer.clock()))

    async def status_changed(self, event: ReferralStatusChanged | ReferralStalled,
                             cause_id: str) -> None:
        """A new status, or a referral stuck in one (told to its outreach worker only)."""
        referral = str(event.referral_id)
        if log.erased(self.engine, referral):
            return
        facts = await self._facts_of(referral)
        consent, _ = await self.consent_of(referral)
        status, reason = ((event.status.value, event.reason)
                          if isinstance(event, ReferralStatusChanged)
                          else ("stalled", event.status.value))
        row = log.outreach_told(self.engine, referral)
        plans = plan_status(cause_id=cause_id, referral_id=referral, status=status,
                            reason=reason, facts=_facts(facts),
                            consent=consent, directory=self.deliverer.directory,
                            now=self.deliverer.clock(), link_base=self.link_base,
                            told=OutreachTold(row.status, row.cause_id) if row else None)
        if status != "stalled" and any(plan.audience == "outreach" for plan in plans):
            log.remember_told(self.engine, log.OutreachToldRow(
                referral_id=referral, status=status, cause_id=cause_id))
        await self._deliver_all(plans)

    async def retry_due(self, event: NotificationRetryScheduled) -> None:
        """Wait out the backoff (bounded), then try again; the log makes a repeat a no-op.

        The wait holds up this retry topic's partition, which costs nothing: every record
        behind this one on the same topic was scheduled later with the same backoff.
        """
        wait = (event.due_at - self.deliverer.clock()).total_seconds()
        await asyncio.sleep(min(max(wait, 0.0), MAX_RETRY_DELAY_S))
        await self.deliverer.deliver(event.notification)

    async def release_held(self) -> int:
        """Expired consent cancels what waits, at once; then held messages whose hours came."""
        now = self.deliverer.clock()
        for referral in log.expired_with_queue(self.engine, now):
            await self._cancel_survivor(referral)
        rows = log.due(self.engine, now)
        for row in rows:
            await self.deliverer.deliver(PlannedNotification.model_validate_json(row.plan))
        return len(rows)

    async def _deliver_all(self, plans: list[PlannedNotification]) -> None:
        await asyncio.gather(*(self.deliverer.deliver(plan) for plan in plans))

    async def _decide(self, referral: str, granted: bool, expires_at: datetime | None,
                      at: datetime) -> None:
        row = log.contact(self.engine, referral)
        if row is not None and (_aware(row.changed_at) or at) > at:
            return  # an older decision arriving late changes nothing
        row = row or log.ContactRow(referral_id=referral, changed_at=at)
        row.granted, row.expires_at, row.changed_at = granted, expires_at, at
        held_at = _aware(row.terms_set_at)
        if not granted and (held_at is None or held_at <= at):  # newer terms came first: keep
            row.terms_value, row.terms_headers, row.terms_set_at = None, "[]", None
        log.save_contact(self.engine, row)
        if not granted:
            await self._cancel_survivor(referral)

    async def _cancel_survivor(self, referral: str) -> None:
        await self._announce_cancelled(referral, log.cancel_survivor(self.engine, referral))

    async def _announce_cancelled(self, referral: str, cancelled: list[str]) -> None:
        for notification_id in cancelled:
            row = log.get(self.engine, notification_id)
            await self.deliverer.publish([NotificationDelivered(
                notification_id=notification_id, referral_id=referral,
                audience=_audience(row.audience if row else "survivor"),
                channel=row.channel if row else "sms",
                outcome="cancelled", at=self.deliverer.clock())])
            log.mark_announced(self.engine, notification_id)


def _audience(stored: str) -> Literal["provider", "outreach", "survivor", "unknown"]:
    """The delivery log keeps the audience as text; anything else is reported as unknown."""
    return stored if stored in ("provider", "outreach", "survivor") else "unknown"  # type: ignore[return-value]


def _aware(at: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were stored in UTC."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=UTC)


def _facts(row: log.ReferralRow | None) -> ReferralFacts | None:
    if row is None:
        return None
    return ReferralFacts(row.referral_id, row.outreach_organization_id, row.urgency,
                         tuple(n for n in row.needs.split(",") if n))


def _terms(event: ContactTermsSet) -> SurvivorTerms:
    return SurvivorTerms(
        channel=event.channel, hours=ContactHours(event.hours_start, event.hours_end,
                                                  event.timezone),
        language=event.language, voicemail_safe=event.voicemail_safe,
        may_name_organization=event.may_name_organization, cover_story=event.cover_story,
        expires_at=event.expires_at)
