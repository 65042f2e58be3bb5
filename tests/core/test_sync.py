"""The mirror stays right: events from the stand-in end to end, a long stream
delivered late, twice and shuffled, and the page right on return with no
webhooks at all."""

from __future__ import annotations

import random

from werkzeug.test import Client

from app import create_app
from billing.models import BillingAccount, BillingProfile, StripeEvent, Subscription, db
from standin import StandIn
from tests.helpers import TEST_CATALOG, database_url, follow, local_path

SECRET = "whsec_sync_test"


def test_stand_in_events_reach_the_app(app, client, auth, standin):
    auth.signup()
    auth.subscribe("starter_monthly")
    sub_id = auth.user().subscription.stripe_subscription_id
    standin.deliver_webhooks()  # what Checkout caused: the mirror is already right

    # The customer cancels from somewhere else (the Dashboard, another device)...
    standin.state.get(sub_id, "subscription")  # exists
    sdk = app.extensions["stripe"].client
    sdk.v1.subscriptions.cancel(sub_id)
    assert auth.user().subscription.status == "active"  # ...the site has not heard yet
    delivered = standin.deliver_webhooks()
    assert delivered and all(status == 200 for _, status in delivered)
    assert auth.user().subscription.status == "canceled"


def test_the_page_is_right_on_return_with_webhooks_off(app, client, auth, standin):
    standin.webhooks.mode = "off"
    auth.signup()
    auth.subscribe("starter_monthly")

    def run_flow(route, completion, **data):
        session_url = auth.post(route, **data).headers["Location"]
        return follow(client, client.post(local_path(session_url), data=completion)).get_data(as_text=True)

    page = run_flow("/account/switch-plan", {}, lookup_key="pro_monthly")
    assert "You are now on Pro, billed monthly." in page
    assert auth.user().subscription.lookup_key == "pro_monthly"
    page = run_flow("/account/payment-method", {"card": "5555555555554444"})
    assert "Mastercard ending in 4444" in page
    page = run_flow("/account/cancel", {"choice": "decline"})  # ends on Stripe's confirmation page
    assert 'href="http://localhost/account/return"' in page
    follow(client, client.get("/account/return"))  # its "back to the site" link
    assert auth.user().subscription.cancel_at is not None
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(StripeEvent)) == 0


# --- 1,000 events: in order, or late, twice and shuffled: the same mirror ----------------


def app_against(stand_in, tmp_path, name):
    app = create_app(
        {
            "TESTING": True,
            "STRIPE_SECRET_KEY": "sk_test_stream",
            "STRIPE_API_BASE": "http://standin.test",
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "QUEUE_URL": "immediate",  # each webhook's job runs before its answer
            "STRIPE_HTTP_CLIENT": stand_in.http_client(),
            "APP_BASE_URL": "http://localhost",
            "SECRET_KEY": "test-secret-key-not-for-production",
            "DATABASE_URL": database_url(tmp_path, name),
            "CATALOG_PATH": TEST_CATALOG,
        }
    )
    assert app.test_cli_runner().invoke(args=["init-db"]).exit_code == 0
    assert app.test_cli_runner().invoke(args=["stripe", "setup"]).exit_code == 0
    return app


def deliver_to(app):
    client = Client(app)
    return lambda body, headers: client.post("/stripe/webhook", data=body, headers=headers).status_code


def mirror(app):
    """Everything the pages read, per user, as plain values."""
    with app.app_context():
        rows = {}
        for user in db.session.scalars(db.select(BillingAccount).order_by(BillingAccount.email)):
            sub, profile = user.subscription, user.profile
            rows[user.email] = (
                None
                if sub is None
                else {
                    c.key: getattr(sub, c.key)
                    for c in Subscription.__table__.columns
                    if c.key not in ("id", "account_id", "updated_at")
                },
                None
                if profile is None
                else {
                    c.key: getattr(profile, c.key)
                    for c in BillingProfile.__table__.columns
                    if c.key not in ("id", "account_id", "updated_at")
                },
            )
        return rows


def make_history(stand_in, apps, customers=28):
    """Customers living a busy month on Stripe's side: cards, plan changes by
    pause/resume, renames, cancellations. Returns how many events it made."""
    sdk = apps[0].extensions["stripe"].client
    prices = {p["lookup_key"]: p["id"] for p in stand_in.state.all("price") if p["lookup_key"]}
    for n in range(customers):
        email = f"c{n:02d}@example.com"
        customer = sdk.v1.customers.create({"email": email})
        for app in apps:
            with app.app_context():
                user = BillingAccount(owner_id=email, email=email, stripe_customer_id=customer.id)
                db.session.add(user)
                db.session.commit()
        card = sdk.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
        sdk.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": card.id}})
        sub = sdk.v1.subscriptions.create(
            {"customer": customer.id, "items": [{"price": prices["pro_monthly"]}], "billing_mode": {"type": "flexible"}}
        )
        for round_ in range(6):
            sdk.v1.customers.update(customer.id, {"name": f"Customer {n} v{round_}"})
            sdk.v1.subscriptions.pause(sub.id)
            sdk.v1.subscriptions.resume(sub.id, {"billing_cycle_anchor": {"type": "unchanged"}})
        newer = sdk.v1.payment_methods.attach("pm_card_mastercard", {"customer": customer.id})
        sdk.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": newer.id}})
        if n % 3 == 0:
            sdk.v1.subscriptions.cancel(sub.id)
    return len(stand_in.webhooks.pending)


def test_a_thousand_events_shuffled_and_duplicated_end_in_the_same_mirror(tmp_path):
    stand_in = StandIn(public_url="http://standin.test")
    in_order, shuffled = app_against(stand_in, tmp_path, "in_order"), app_against(stand_in, tmp_path, "shuffled")
    webhooks = stand_in.configure_webhooks(SECRET, deliver=deliver_to(in_order), mode="queued")
    count = make_history(stand_in, [in_order, shuffled])
    assert count >= 1000
    events = list(webhooks.pending)

    sent = stand_in.deliver_webhooks()
    assert len(sent) == count and {status for _, status in sent} == {200}

    webhooks.pending, webhooks.deliver_to, webhooks.duplicates = events, deliver_to(shuffled), True
    sent = stand_in.deliver_webhooks(shuffle=random.Random(20261125))
    assert len(sent) == 2 * count and {status for _, status in sent} == {200}

    assert mirror(shuffled) == mirror(in_order)
    # ... and both say what Stripe says now.
    truth = app_against(stand_in, tmp_path, "truth")
    with truth.app_context():
        for email, (sub, _) in mirror(in_order).items():
            customer = stand_in.state.get(sub["stripe_subscription_id"], "subscription")["customer"]
            user = BillingAccount(owner_id=email, email=email, stripe_customer_id=customer)
            db.session.add(user)
        db.session.commit()
    assert truth.test_cli_runner().invoke(args=["stripe", "resync"]).exit_code == 0
    assert mirror(truth) == mirror(in_order)
    # Every handled event was recorded once in each database.
    for app in (in_order, shuffled):
        with app.app_context():
            assert db.session.scalar(db.select(db.func.count()).select_from(StripeEvent)) == count
