"""`flask stripe resync`: the mirror repaired from Stripe after missed webhooks."""

from __future__ import annotations

import pytest
import stripe

from billing.models import BillingAccount, BillingProfile, db


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
    assert again.exit_code == 0, again.output
    assert "Resynced 1 customers from Stripe in 2 calls" in again.output
    assert "0 updated, 1 already right." in again.output


def test_resync_names_an_unknown_customer_and_reports_failures(app, standin, subscriber):
    runner = app.test_cli_runner()
    unknown = runner.invoke(args=["stripe", "resync", "--customer", "cus_nobody"])
    assert unknown.exit_code == 1
    assert "No billing account of this site has the Stripe customer cus_nobody." in unknown.output
    standin.fail_next("GET", "/v1/subscriptions", status=500, count=3)
    failed = runner.invoke(args=["stripe", "resync"])
    assert failed.exit_code == 1 and "Stripe could not be read" in failed.output
    assert "Nothing was written; run it again." in failed.output


def test_resync_pages_through_stripe_a_hundred_at_a_time(app, standin, subscriber):
    """250 customers: 3 pages of subscriptions and 3 of customers, not 2 reads each."""
    sdk = stripe.StripeClient(
        "sk_test_resync", base_addresses={"api": "http://standin"}, http_client=standin.http_client()
    )
    price = subscriber.user().subscription.price_id
    with app.app_context():
        for n in range(249):
            customer = sdk.v1.customers.create({"email": f"c{n}@example.com", "name": f"Before {n}"})
            sdk.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price}]})
            sdk.v1.customers.update(customer.id, {"name": f"After {n}"})  # changed at Stripe, unseen here
            db.session.add(
                BillingAccount(owner_id=f"owner-{n}", email=f"c{n}@example.com", stripe_customer_id=customer.id)
            )
        db.session.commit()
    standin.clear_requests()
    done = app.test_cli_runner().invoke(args=["stripe", "resync"])
    assert done.exit_code == 0, done.output
    assert [r.path for r in standin.requests] == ["/v1/subscriptions"] * 3 + ["/v1/customers"] * 3
    assert "Resynced 250 customers from Stripe in 6 calls" in done.output
    assert "Reading Stripe" in done.output  # the progress bar (its counts and ETA show on a terminal)
    with app.app_context():
        names = set(db.session.scalars(db.select(BillingProfile.name)))
        assert {f"After {n}" for n in range(249)} <= names
