"""The same buttons against Stripe's test mode. Opt-in: runs only when
STRIPE_SECRET_KEY is a test key (sk_test_...), and is skipped otherwise.

    STRIPE_SECRET_KEY=sk_test_... .venv/bin/pytest -m live

It creates (idempotently) the catalog's products, prices and a portal
configuration in the test account, a customer per run, and cleans up the
customer at the end.
"""

from __future__ import annotations

import pytest
import stripe

from tests.helpers import LIVE, LIVE_KEY, Auth

pytestmark = [pytest.mark.live, LIVE]


def test_buttons_open_stripe_pages(live_app):
    client = live_app.test_client()
    auth = Auth(client, live_app)
    auth.signup(email="live-test@example.com")

    checkout = auth.post("/checkout", lookup_key="starter_monthly")
    assert checkout.status_code == 303
    assert checkout.headers["Location"].startswith("https://checkout.stripe.com/")

    customer = auth.user().customer
    sdk = stripe.StripeClient(LIVE_KEY, stripe_version="2026-10-28.endive")
    try:
        # Stand in for the customer paying on Checkout: subscribe with a test card.
        pm = sdk.v1.payment_methods.attach("pm_card_visa", {"customer": customer})
        sdk.v1.customers.update(customer, {"invoice_settings": {"default_payment_method": pm.id}})
        price = sdk.v1.prices.list({"lookup_keys": ["starter_monthly"]}).data[0]
        sdk.v1.subscriptions.create(
            {"customer": customer, "items": [{"price": price.id}], "billing_mode": {"type": "flexible"}}
        )
        assert client.get("/account/return").headers["Location"] == "/account"
        assert auth.user().subscription.lookup_key == "starter_monthly"

        for path, data in [
            ("/account/switch-plan", {"lookup_key": "pro_monthly"}),
            ("/account/cancel", {}),
            ("/account/billing", {}),
        ]:
            response = auth.post(path, **data)
            assert response.status_code == 303, response.get_data(as_text=True)
            assert response.headers["Location"].startswith("https://billing.stripe.com/")
    finally:
        sdk.v1.customers.delete(customer)
