"""What the stand-in was asked: its request counts by "METHOD /v1/template" and its 429s
(`GET /_standin/stats`, zeroed by `POST /_standin/stats/reset`: doors real Stripe does not
have), and its two knobs, turned once the customers are seeded (`POST /_standin/limits`)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass
from typing import Any

# The reads the background work makes: what a refresh of one customer costs.
BACKGROUND_READS = ("GET /v1/subscriptions", "GET /v1/customers/{id}", "GET /v1/customers")


@dataclass(frozen=True)
class Counts:
    requests: Counter[str]  # "METHOD /v1/template" -> count
    total: int
    rate_limited: int  # 429s answered

    @property
    def background_reads(self) -> int:
        return sum(self.requests[name] for name in BACKGROUND_READS)


def _call(url: str, form: dict[str, str] | None = None) -> Any:
    data = None if form is None else urllib.parse.urlencode(form).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as answer:
        return json.loads(answer.read() or b"null")


def set_limits(stripe_url: str, latency: float, rate_limit: float | None) -> None:
    """Make the stand-in answer in `latency` s and refuse past `rate_limit` requests/s."""
    _call(stripe_url + "/_standin/limits", {"latency": f"{latency:g}", "rate_limit": f"{rate_limit or ''}"})


def reset(stripe_url: str) -> None:
    _call(stripe_url + "/_standin/stats/reset", {})


def read(stripe_url: str) -> Counts:
    found = _call(stripe_url + "/_standin/stats")
    requests = Counter({str(k): int(v) for k, v in found["requests"].items()})
    return Counts(requests, int(found["total"]), int(found["rate_limited"]))
