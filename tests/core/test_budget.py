"""The background share of Stripe's rate limit: background calls wait their turn, a 429
leaves the event pending for a later retry, and a click is never held by the budget."""

from __future__ import annotations

import time

import pytest
from huey.exceptions import RetryTask

from billing.budget import StripeBudget, default_rate
from billing.models import StripeEvent, db
from tests.core.test_renewal_day import customer_event
from tests.core.test_webhooks import post_event


def test_the_budget_holds_background_calls_to_their_rate():
    budget = StripeBudget(5, "memory://")
    started = time.monotonic()
    for _ in range(11):
        budget.take()
    # 5 at once, 5 more a second later, the 11th a second after that: never 6 in a second.
    assert time.monotonic() - started >= 1.9


def test_half_the_keys_limit_by_default():
    assert default_rate(live_mode=False) == 12 and default_rate(live_mode=True) == 50


def test_a_429_leaves_the_event_pending_and_the_job_is_retried_later(app, client, standin, subscriber):
    sub = standin.state.get(subscriber.user().subscription.stripe_subscription_id, "subscription")
    sub["cancel_at_period_end"] = True
    job = queued_job(app, client, standin, subscriber)
    standin.rate_limit = 0.001  # an empty bucket: Stripe answers 429, code rate_limit
    with pytest.raises(RetryTask) as retry:
        job()
    assert 5 <= retry.value.delay <= 30  # later, at a jittered moment
    standin.rate_limit = None
    with app.app_context():
        event = db.session.get(StripeEvent, "evt_storm_1")
        assert event.applied_at is None and event.claimed_by is None  # pending, not failed
    job()  # the retry
    assert subscriber.user().subscription.cancel_at_period_end is True


def queued_job(app, client, standin, subscriber):
    """The webhook records an event; returns its job, to run as a worker runs it."""
    queue = app.extensions["queue"]
    task, subjects = queue._refresh, []
    queue._refresh = subjects.append
    assert post_event(client, customer_event(standin, subscriber, 1)).status_code == 200
    return lambda: task.call_local(*subjects)


def test_clicks_never_wait_for_the_background_budget_and_jobs_always_do(app, client, standin, subscriber):
    def exhausted():
        raise OverflowError("the background budget is spent")

    app.extensions["queue"].budget.take = exhausted
    assert subscriber.post("/account/billing").status_code == 303  # a click: no turn taken
    job = queued_job(app, client, standin, subscriber)
    with pytest.raises(OverflowError):
        job()  # a background refresh: its Stripe call waits for a turn first
