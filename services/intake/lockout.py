"""How long an account stays locked after failed sign-ins in a row. Pure: no I/O.

A few mistakes cost nothing; from the fifth failure in a row each one locks the account
for twice as long as the one before, from 30 seconds up to 15 minutes. The cap is what
keeps an attacker who knows a username from locking its owner out for long: once they
stop, the owner waits at most 15 minutes, and a browser the owner signed in on before
is not locked at all (known_device.py).
"""

from __future__ import annotations

from datetime import timedelta

FREE_FAILURES = 4
FIRST_LOCK = timedelta(seconds=30)
LONGEST_LOCK = timedelta(minutes=15)


def lock_after(failures: int) -> timedelta | None:
    """The lock that this many failures in a row earn, or None while they are free."""
    if failures <= FREE_FAILURES:
        return None
    doublings = min(failures - FREE_FAILURES - 1, 16)  # 2**16 * 30 s is far past the cap
    lock: timedelta = FIRST_LOCK * (1 << doublings)
    return min(lock, LONGEST_LOCK)


def starts_a_lock(failures: int) -> bool:
    """True for the failure that first locks the account in a streak: the admin alert."""
    return failures == FREE_FAILURES + 1
