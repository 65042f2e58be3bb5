"""The same buttons against Stripe's test mode. Opt-in: runs only when
STRIPE_SECRET_KEY is a test key (sk_test_...), and is skipped otherwise.

    STRIPE_SECRET_KEY=sk_test_... .venv/bin/pytest -m live

It creates (idempotently) the catalog's products, prices and a portal
configuration in the test account, a customer per run, and cleans up the
customer at the end.
"""

from __future__ import annotations

import os

import pytest
import stripe

from app import create_app
from tests.helpers import Auth, database_url

KEY = os.environ.get("STRIPE_SECRET_KEY", "")
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not KEY.startswith("sk_test_"), reason="needs STRIPE_SECRET_KEY=sk_test_..."),
]


@pytest.fixture
def live_app(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "STRIPE_SECRET_KEY": KEY,
            "APP_BASE_URL": "http://127.0.0.1:5000",
            "SECRET_KEY": "live-test-secret-key-0123456789",
            "DATABASE_URL": database_url(tmp_path, "live"),
        }
    )
    with app.app_context():
        from billing.models import db

        db.create_all()
        billing = app.extensions["stripe"]
        billing.ensure_catalog(app.extensions["catalog"])
    return app


def test_buttons_open_stripe_pages(live_app):
    client = live_app.test_client()
    auth = Auth(client, live_app)
    auth.signup(email="live-test@example.com")

    checkout = auth.post("/checkout", lookup_key="starter_monthly")
    assert checkout.status_code == 303
    assert checkout.headers["Location"].startswith("https://checkout.stripe.com/")

    customer = auth.user().customer
    sdk = stripe.StripeClient(KEY, stripe_version="2026-10-28.endive")
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


def test_setup_doctor_and_personas_against_test_mode(live_app):
    """The account commands, for real: setup is a no-op the second time, doctor
    is clean (a webhook secret aside, which a test run need not have), and seed
    makes every persona, which reset removes again."""
    runner = live_app.test_cli_runner()
    setup = runner.invoke(args=["stripe", "setup"])
    assert setup.exit_code == 0, setup.output
    assert "nothing changed" in setup.output

    doctor = runner.invoke(args=["stripe", "doctor"])
    problems = [line for line in doctor.output.splitlines() if "PROBLEM" in line]
    assert all("STRIPE_WEBHOOK_SECRET" in line for line in problems), doctor.output

    try:
        seed = runner.invoke(args=["demo", "seed"])
        assert seed.exit_code == 0, seed.output
        with live_app.app_context():
            from billing.models import User, db
            from personas import PERSONAS

            statuses = {
                p.key: (user.subscription.status if user.subscription else None)
                for p in PERSONAS
                if (user := db.session.scalar(db.select(User).where(User.email == p.email)))
            }
        assert statuses["past-due"] == "past_due" and statuses["paused"] == "paused", statuses
    finally:
        reset = runner.invoke(args=["demo", "reset"])
        assert reset.exit_code == 0, reset.output
