"""The background budget is one budget across processes when the queue is on Redis."""

from __future__ import annotations

import threading
import time

from billing.budget import StripeBudget


def test_two_processes_share_one_budget_in_redis(redis_url):
    # Two budgets on one Redis, as two worker processes have: 12 calls at 5 a second
    # take two seconds together (each alone would need only one).
    budgets = [StripeBudget(5, redis_url), StripeBudget(5, redis_url)]
    started = time.monotonic()
    threads = [threading.Thread(target=lambda b=b: [b.take() for _ in range(6)]) for b in budgets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert time.monotonic() - started >= 1.9
