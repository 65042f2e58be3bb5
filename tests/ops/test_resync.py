"""`flask stripe resync`: the mirror repaired from Stripe after missed webhooks."""

from __future__ import annotations

import pytest


@pytest.fixture
def subscriber(auth):
    """A signed-up user with an active subscription."""
    auth.signup()
    auth.subscribe()
    return auth


def test_resync_repairs_the_mirror_after_missed_events(app, standin, subscriber):
    sub = standin.state.get(subscriber.user().subscription.stripe_subscription_id, "subscription")
    sub["cancel_at_period_end"] = True  # changed on Stripe's side; the event never came
    runner = app.test_cli_runner()
    one = runner.invoke(args=["stripe", "resync", "--customer", subscriber.user().customer])
    assert one.exit_code == 0, one.output
    assert f"updated  ada@example.com ({subscriber.user().customer})" in one.output
    assert subscriber.user().subscription.cancel_at_period_end is True
    again = runner.invoke(args=["stripe", "resync"])
    assert "Resynced 1 of 1 customers from Stripe." in again.output and "updated" not in again.output


def test_resync_names_an_unknown_customer_and_reports_failures(app, standin, subscriber):
    runner = app.test_cli_runner()
    unknown = runner.invoke(args=["stripe", "resync", "--customer", "cus_nobody"])
    assert unknown.exit_code == 1
    assert "No billing account of this site has the Stripe customer cus_nobody." in unknown.output
    standin.fail_next("GET", "/v1/subscriptions", status=500, count=3)
    failed = runner.invoke(args=["stripe", "resync"])
    assert failed.exit_code == 1 and "failed   ada@example.com" in failed.output
