"""When `haven up` restarts a service that died, and what it says about it (pure, no I/O).

A crashed service comes back after a delay that doubles with each crash in a row
(1 s, 2 s, 4 s ... up to a cap), so a service that cannot start does not spin the
machine, while one that ran fine for a while before dying is back at once. Only
Ctrl-C or SIGTERM stops `up`; a dying service never takes the others with it.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass


@dataclass(frozen=True)
class RestartPolicy:
    """Backoff for one service: `first_s`, doubled per crash in a row, at most `max_s`."""

    first_s: float = 1.0
    factor: float = 2.0
    max_s: float = 30.0
    # A run at least this long was healthy: the next crash starts the backoff over.
    healthy_after_s: float = 30.0


@dataclass(frozen=True)
class Restart:
    """What to do about one exit: wait `delay_s`, then start again; `crashes` in a row."""

    delay_s: float
    crashes: int
    reason: str


def after_exit(policy: RestartPolicy, *, returncode: int, ran_for_s: float,
               crashes_before: int) -> Restart:
    """The restart after a service exited with `returncode` having run `ran_for_s`."""
    crashes = 1 if ran_for_s >= policy.healthy_after_s else crashes_before + 1
    delay = min(policy.first_s * policy.factor ** (crashes - 1), policy.max_s)
    return Restart(delay_s=delay, crashes=crashes, reason=exit_reason(returncode))


def exit_reason(returncode: int) -> str:
    """A person's words for an exit status (Popen gives -N for 'killed by signal N')."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


def describe(name: str, restart: Restart, *, ran_for_s: float) -> str:
    """The line `up` prints, so the operator knows what happened and what comes next."""
    return (f"{name} {restart.reason} after {ran_for_s:.0f}s; restarting in "
            f"{restart.delay_s:.0f}s (crash {restart.crashes} in a row)")
