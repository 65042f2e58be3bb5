"""The share of Stripe's rate limit that background work may use.

Stripe allows each account 100 operations a second in live mode and 25 in a sandbox,
shared by everything the merchant does (https://docs.stripe.com/rate-limits). On renewal
day the background refreshes alone could spend all of it, and the customers' clicks would
get 429s. So background calls take a turn here first (stripe_api.background_budget), under
STRIPE_BACKGROUND_RATE calls a second (default: half the key's limit), counted with the
`limits` library (Flask-Limiter's own) across every process in Redis when the queue is there,
else in this process. Clicks never take a turn: the other half stays theirs.
"""

from __future__ import annotations

import logging
import random
import time
import typing
from contextvars import ContextVar

from limits import RateLimitItemPerSecond, storage, strategies

log = logging.getLogger(__name__)

KEY = "stripe-background-calls"


class Budget(typing.Protocol):
    def take(self) -> None:
        """Wait until one more Stripe call fits in the budget (billing.budget)."""


# Background work (billing.worker, `flask stripe resync`) sets this: each of its calls then
# waits for its share of Stripe's rate limit, and leaves the rest to clicks, which never wait.
background_budget: ContextVar[Budget | None] = ContextVar("stripe_background_budget", default=None)


class StripeBudget:
    def __init__(self, per_second: int, storage_uri: str) -> None:
        self.per_second = per_second
        self._item = RateLimitItemPerSecond(per_second)
        # A moving window: never more than `per_second` calls in any second, even across
        # the edge of two (a fixed window would allow twice as many there).
        self._limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri))

    def take(self) -> None:
        """Wait until one more call fits, then count it. The wait ends with a little
        jitter, so workers that waited together do not all call together."""
        while not self._limiter.hit(self._item, KEY):
            reset_at = self._limiter.get_window_stats(self._item, KEY).reset_time
            time.sleep(max(0.0, reset_at - time.time()) + random.uniform(0.0, 0.05))


def default_rate(live_mode: bool) -> int:
    """Half the account's limit (https://docs.stripe.com/rate-limits)."""
    return 50 if live_mode else 12
