"""Delivering one planned notification exactly once, or saying clearly why not.

The order of steps is the guarantee: look in the log (sent before? nothing to
do), ask the consent gate (a survivor message may be held or cancelled), claim
(committed), send, record. A worker killed between claim and record leaves the
claim behind; the next attempt finds it and knows the outcome is unknown. Where
the provider can be asked (the SMS gateway's and the mail provider's lookup), its
answer settles it: recorded as sent, or sent now. Where nobody can tell, staff
messages are sent again with the same id (Haven-Delivery-Id, Message-ID, gateway
reference), which receivers drop as a repeat; a survivor message is never sent
twice on a guess: it is marked `in_doubt` and admins get an alert.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from services.notifier import delivery_log as log
from services.notifier.channels import (
    ChannelPort,
    Outgoing,
    Permanent,
    Reconciling,
    Transient,
)
from services.notifier.model import Endpoints, SurvivorConsent
from services.notifier.policy import gate, plan_survivor
from services.notifier.rendering import Renderer
from shared.events import (
    Event,
    NotificationAlertRaised,
    NotificationDelivered,
    NotificationRetryScheduled,
    PlannedNotification,
)

logger = logging.getLogger("haven.notifier")
Publish = Callable[[list[Event]], Awaitable[None]]
ConsentLookup = Callable[[str], Awaitable[tuple[SurvivorConsent, str | None]]]
OUTCOME = {"sent": "delivered", "held": "held", "cancelled": "cancelled", "failed": "failed",
           "in_doubt": "failed"}


@dataclass
class Deliverer:
    """Sends planned notifications through the channel ports, guarded by the delivery log."""

    engine: Engine
    channels: Mapping[str, ChannelPort]
    renderer: Renderer
    directory: Mapping[str, Endpoints]
    publish: Publish
    consent_of: ConsentLookup
    dead_letter: Callable[[NotificationRetryScheduled, str], Awaitable[None]]
    retry_delays: Sequence[float]
    clock: Callable[[], datetime] = log.now
    # How long after a claim a provider is asked about it: by then a message the dead
    # worker was still handing over has arrived, or the provider has dropped it.
    settle_after: timedelta = timedelta(seconds=10)

    async def deliver(self, plan: PlannedNotification) -> None:
        """One attempt at one notification; safe to call again with the same plan."""
        row = log.get(self.engine, plan.notification_id)
        if row is not None and row.state in log.FINAL:
            if not row.announced:
                await self._announce(plan, row.state)
            return
        in_doubt = row is not None and row.state == "claimed"
        if row is not None and in_doubt:
            known = await self._provider_has(plan, claimed_at=row.updated_at)
            logger.info("outcome hidden by a crash", extra={
                "notification_id": plan.notification_id, "provider_has": known})
            if known:  # the provider took it before the worker died
                await self._settle(plan, "sent")
                return
            if known is None and plan.audience == "survivor":  # nobody can tell: never resend
                await self._fail(plan, "in_doubt", attempts=row.attempts)
                return
        address: str | None = None
        held = row is not None and row.state == "held"
        if plan.audience != "survivor" and not in_doubt:
            verdict = gate(plan, SurvivorConsent(), self.clock())
            if verdict.action == "hold":
                if not held:
                    await self._settle(plan, "held", due_at=verdict.until)
                return
        if plan.audience == "survivor":
            consent, address = await self.consent_of(_referral(plan))
            ready = await self._survivor_ready(plan, consent, held=held)
            if ready is None:
                return
            plan = ready
        claimed = log.claim(self.engine, notification_id=plan.notification_id,
                            referral_id=_referral(plan), audience=plan.audience,
                            channel=plan.channel, resend_claimed=in_doubt)
        if claimed == "ours":
            await self._send(plan, address)

    async def _survivor_ready(self, plan: PlannedNotification, consent: SurvivorConsent,
                              *, held: bool) -> PlannedNotification | None:
        """The plan to send now (fields from today's terms), or None once held or cancelled."""
        now = self.clock()
        verdict = gate(plan, consent, now)
        if verdict.action == "cancel":
            await self._settle(plan, "cancelled")
            return None
        if verdict.action == "hold":
            if not held:
                await self._settle(plan, "held", due_at=verdict.until)
            return None
        referrer = self._referrer(plan)
        fresh = plan_survivor(cause_id=plan.cause_id, referral_id=_referral(plan),
                              consent=consent, referrer=referrer, now=now)
        return plan.model_copy(update={"fields": fresh.fields}) if fresh else None

    async def _provider_has(self, plan: PlannedNotification, *,
                            claimed_at: datetime) -> bool | None:
        """Ask the channel's provider whether a message whose outcome a crash hid arrived."""
        channel = self.channels[plan.channel]
        if not isinstance(channel, Reconciling):
            return None
        # Asked too early, a provider still reading the dead worker's last bytes says "no".
        # Real time, as the claim was stamped, not the policy clock.
        claimed = claimed_at if claimed_at.tzinfo else claimed_at.replace(tzinfo=UTC)
        wait_s = (claimed + self.settle_after - log.now()).total_seconds()
        if wait_s > 0:
            await asyncio.sleep(wait_s)
        return await channel.received(plan.notification_id)

    def _referrer(self, plan: PlannedNotification) -> Endpoints | None:
        facts = log.referral(self.engine, _referral(plan))
        return self.directory.get(facts.outreach_organization_id) if facts else None

    async def _send(self, plan: PlannedNotification, address: str | None) -> None:
        rendered = self.renderer.render(plan)
        target = address if plan.audience == "survivor" else self._org_address(plan)
        try:
            if target is None:
                raise Permanent("no-address")
            await self.channels[plan.channel].send(Outgoing(
                notification_id=plan.notification_id, channel=plan.channel, address=target,
                subject=rendered.subject, text=rendered.text,
                data=_data(plan)))
        except Permanent as error:
            await self._fail(plan, error.reason)
            return
        except Transient as error:
            await self._retry(plan, error.reason)
            return
        await self._settle(plan, "sent")

    def _org_address(self, plan: PlannedNotification) -> str | None:
        endpoints = self.directory.get(plan.recipient.removeprefix("org:"))
        if endpoints is None:
            return None
        return {"email": endpoints.email, "webhook": endpoints.webhook_url,
                "inbox": endpoints.organization_id}.get(plan.channel)

    async def _retry(self, plan: PlannedNotification, reason: str) -> None:
        row = log.get(self.engine, plan.notification_id)
        attempts = row.attempts if row else 1
        if attempts > len(self.retry_delays):
            await self._fail(plan, reason, attempts=attempts)
            return
        due_at = self.clock() + timedelta(seconds=self.retry_delays[attempts - 1])
        logger.info("notification will be retried", extra={
            "notification_id": plan.notification_id, "reason": reason, "attempt": attempts})
        if plan.referral_id is None:  # retry records are sealed per referral: wait in the log
            log.settle(self.engine, plan.notification_id, "held", due_at=due_at,
                       plan=plan.model_dump_json())
            return
        log.settle(self.engine, plan.notification_id, "retrying", due_at=due_at,
                   plan=plan.model_dump_json())
        await self.publish([NotificationRetryScheduled(
            referral_id=plan.referral_id, notification=plan, attempt=attempts, due_at=due_at)])

    async def _fail(self, plan: PlannedNotification, reason: str, *, attempts: int = 1) -> None:
        """Permanent failure or unknown outcome: dead letter, alert, and the outcome event."""
        state = "in_doubt" if reason == "in_doubt" else "failed"
        log.settle(self.engine, plan.notification_id, state)
        logger.warning("notification not delivered", extra={
            "notification_id": plan.notification_id, "reason": reason})
        if plan.referral_id is not None:  # a dead letter is sealed per referral; the alert is not
            await self.dead_letter(NotificationRetryScheduled(
                referral_id=plan.referral_id, notification=plan, attempt=max(attempts, 1),
                due_at=self.clock()), reason)
        await self.publish([NotificationAlertRaised(
            notification_id=plan.notification_id, referral_id=plan.referral_id,
            channel=plan.channel, reason=reason.replace("-", "_"), attempts=attempts,
            at=self.clock())])
        await self._announce(plan, state)

    async def _settle(self, plan: PlannedNotification, state: str, *,
                      due_at: datetime | None = None) -> None:
        # A held survivor plan keeps no fields: they are made again from the terms at send time.
        kept = plan.model_copy(update={"fields": {}}) if plan.audience == "survivor" else plan
        log.settle(self.engine, plan.notification_id, state, due_at=due_at,
                   plan=kept.model_dump_json(), referral_id=_referral(plan),
                   audience=plan.audience, channel=plan.channel)
        if state == "held" and plan.audience != "survivor":
            # A staff reminder waiting for its time is no news for anyone's timeline.
            log.mark_announced(self.engine, plan.notification_id)
            return
        await self._announce(plan, state)

    async def _announce(self, plan: PlannedNotification, state: str) -> None:
        await self.publish([NotificationDelivered(
            notification_id=plan.notification_id, referral_id=plan.referral_id,
            audience=plan.audience, channel=plan.channel, outcome=OUTCOME[state],
            at=self.clock())])
        log.mark_announced(self.engine, plan.notification_id)


def _data(plan: PlannedNotification) -> dict[str, str]:
    """What a machine receiver (webhook, inbox) gets besides the words: ids and codes, and
    for staff the referral's short reference (survivor messages carry none)."""
    data = {"referral_id": _referral(plan), "event": plan.template, "audience": plan.audience}
    if plan.audience != "survivor" and "reference" in plan.fields:
        data["reference"] = plan.fields["reference"]
    return data


def _referral(plan: PlannedNotification) -> str:
    """The referral id as the log keeps it; empty for a notification about no referral."""
    return "" if plan.referral_id is None else str(plan.referral_id)
