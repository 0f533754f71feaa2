"""Per-address limits on failed sign-ins, with the maintained `limits` library.

An attacker's guesses cost intake an argon2 check each (that is the point of argon2),
so a few clients could slow everyone down; and each guess was an audit row. Before
checking a password, intake asks whether the client address still has failures left in
its moving windows (by default 10 a minute and 100 an hour, over all accounts); when it
has none the answer is 429 with `Retry-After`, without a password check and without an
audit row. So one address can cause at most 100 `sign_in.failed` rows an hour.

The counters live in a `limits` storage named by a URI: `memory://` (the default) counts
per intake process; with several intake replicas point HAVEN_SIGN_IN_STORAGE_URI at a
shared Redis (`redis://host:6379`, needs the `redis` package) so the budget is shared.
Addresses are keyed by an HMAC under the token secret, so the storage holds no address.
The per-account lockout is in the database instead (accounts.py, lockout.py), because it
must hold across replicas and restarts in every deployment.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time

from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ThrottleSettings(BaseSettings):
    """From HAVEN_SIGN_IN_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="HAVEN_SIGN_IN_", extra="ignore")

    per_address: str = Field(default="10/minute;100/hour", max_length=200,
                             description="failed sign-ins one client address may make, "
                                         "in `limits` notation")
    storage_uri: str = Field(default="memory://", max_length=500,
                             description="where the counters live (memory:// or redis://…)")


class SignInThrottle:
    """Moving windows of failed sign-ins per client address."""

    def __init__(self, settings: ThrottleSettings, *, secret: str) -> None:
        self._limits = parse_many(settings.per_address)
        self._limiter = MovingWindowRateLimiter(storage_from_string(settings.storage_uri))
        self._secret = secret.encode()

    def wait(self, address: str) -> int:
        """Seconds until this address may try again; 0 when it may try now."""
        key = self._key(address)
        waits = [self._limiter.get_window_stats(item, key).reset_time - time.time()
                 for item in self._limits if not self._limiter.test(item, key)]
        return max(1, math.ceil(max(waits))) if waits else 0

    def failed(self, address: str) -> None:
        """Count one failed sign-in against the address."""
        key = self._key(address)
        for item in self._limits:
            self._limiter.hit(item, key)

    def _key(self, address: str) -> str:
        return hmac.new(self._secret, address.encode(), hashlib.sha256).hexdigest()[:32]
