"""The periodic task: every few seconds, find what is stuck and act (rules.py decides).

Runs as a thread of intake's lifespan, next to the outbox relay and the projector.
Each action commits on its own, so one that fails (another intake process acted
first, the database is busy) changes nothing and the next round decides again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from services.intake.vault import Vault
from services.intake.watch import store
from services.intake.watch.rules import (
    Action,
    WatchPolicy,
    about_placement,
    about_submission,
)

log = logging.getLogger("haven.intake.watch")
PLACEMENT_LOOK_BACK = timedelta(days=2)  # placements older than this were settled long ago
ALWAYS = datetime.min.replace(tzinfo=UTC)  # a view that was never behind


class Watchdog:
    """Re-sends submissions matching did not answer, and alerts what stays stuck."""

    def __init__(self, engine: Engine, policy: WatchPolicy, *, vault: Vault, interval_s: float,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 view_current_since: Callable[[], datetime | None] = lambda: ALWAYS) -> None:
        """`view_current_since` is the projector's: since when intake has read everything
        matching published, None while it catches up (then no round runs)."""
        self._view_current_since = view_current_since
        self._engine = engine
        self._vault = vault
        self._policy = policy
        self._interval_s = interval_s
        self._clock = clock

    def run(self, stop: threading.Event) -> None:
        """Watch until `stop` is set; a failed round is logged and tried again."""
        while not stop.wait(self._interval_s):
            try:
                self.watch_once()
            except Exception as error:  # the database away for a moment: next round
                log.warning("watch round failed", extra={"reason": type(error).__name__})

    def watch_once(self) -> list[Action]:
        """One round: decide about every candidate, then carry out each decision."""
        view_since = self._view_current_since()
        if view_since is None:
            return []  # what intake has not read yet is not silence
        now = self._clock()
        look_back = max(PLACEMENT_LOOK_BACK, 2 * (self._policy.silent_after
                                                  + self._policy.alert_after))
        with Session(self._engine) as session:
            actions = [a for s in store.submissions(session)
                       if (a := about_submission(s, now=now, policy=self._policy,
                                                 view_since=view_since))]
            actions += [a for p in store.placements(session, vault=self._vault, now=now,
                                                        look_back=look_back)
                        if (a := about_placement(p, now=now, policy=self._policy))]
        return [action for action in actions if self._carry_out(action, now)]

    def _carry_out(self, action: Action, now: datetime) -> bool:
        with Session(self._engine) as session:
            try:
                if action.step == "resend":
                    found = store.resend(session, action, now)
                else:
                    store.alert(session, action, now)
                session.commit()
            except IntegrityError:  # another intake process acted on it first
                session.rollback()
                return False
        referral = str(action.referral_id)  # an opaque id, never personal data
        if action.step == "resend":
            log.warning("no status from matching: submission sent again",
                        extra={"referral": referral, "in_outbox": found})
        else:
            log.warning("referral stuck: admins alerted",
                        extra={"referral": referral, "stuck": action.stuck})
        return True
