"""Stripe's rate limit, and the stand-in's count of the API calls it answered.

Stripe limits each account to a number of API requests per second (25 in a sandbox,
100 in live mode) and answers `429 Too Many Requests` past it
(https://docs.stripe.com/rate-limits). `TokenBucket` plays that limiter; `Stats`
counts what came in, so that a benchmark can print "Stripe calls per customer"
(`GET /_standin/stats`, a door real Stripe does not have).

Each holds a small lock of its own, only for its arithmetic: nothing waits (no
`--latency` sleep, no request) while holding it, and neither touches `State.lock`.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from standin.errors import StripeError

# https://docs.stripe.com/api/errors lists `invalid_request_error` among the error types
# (there is no rate-limit type) and words 429 as "Too many requests hit the API too
# quickly. We recommend an exponential backoff of your requests."; `rate_limit` is the code
# https://docs.stripe.com/error-codes gives it (the SDK's RateLimitError is raised for any 429).
RATE_LIMIT_CODE = "rate_limit"
RATE_LIMIT_MESSAGE = "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests."


def rate_limited() -> StripeError:
    """The answer past the limit. No `Stripe-Should-Retry` header: the rate-limits page does not
    say Stripe sends one on a 429, so none is invented (and without it stripe-python does not
    retry a 429 on its own: the caller backs off, as the page advises)."""
    return StripeError(429, RATE_LIMIT_MESSAGE, type="invalid_request_error", code=RATE_LIMIT_CODE)


class TokenBucket:
    """`rate` requests a second on average, bursts of up to `rate` (the bucket starts full),
    shared by every thread (every connection) of the process."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < rate < float("inf"):
            raise ValueError("the rate limit is a number of requests per second above 0")
        self.rate = rate
        self._clock = clock
        self._tokens = rate
        self._stamp = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spend one token if there is one (True), else refuse (False) without waiting."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.rate, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


# `<customer_id>` in a route's rule: the part of the path that is an id.
_URL_ARG = re.compile(r"<[^>]+>")


def template(rule: str) -> str:
    """`/v1/customers/<customer_id>` -> `/v1/customers/{id}`."""
    return _URL_ARG.sub("{id}", rule)


class Stats:
    """API requests counted by "METHOD /v1/path-template", and the 429s among them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: Counter[str] = Counter()
            self._rate_limited: Counter[str] = Counter()
            self._since = time.time()

    def count(self, endpoint: str, rate_limited: bool) -> None:
        with self._lock:
            self._requests[endpoint] += 1
            if rate_limited:
                self._rate_limited[endpoint] += 1

    def snapshot(self) -> dict[str, Any]:
        """What `GET /_standin/stats` answers (see `StandIn.stats`)."""
        with self._lock:
            return {
                "total": sum(self._requests.values()),
                "rate_limited": sum(self._rate_limited.values()),
                "requests": dict(sorted(self._requests.items())),
                "rate_limited_requests": dict(sorted(self._rate_limited.items())),
                "since": round(self._since, 3),
            }
