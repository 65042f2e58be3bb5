"""Exactly one Stripe call per click, at any time after start: the catalog's price ids
are mirrored locally (read at start, by `flask stripe setup`, and on price.* and
product.* webhooks), never re-fetched on a timer; an archived price is refused with
no Stripe call as soon as its webhook arrives."""

from __future__ import annotations

import time

import pytest

from billing.buttons import BUTTON
from billing.models import StripePrice, db

HOUR = 3600.0

# What each button's form sends (the rest send only their CSRF token).
FORMS = {
    "switch_plan": {"lookup_key": "business_yearly"},
    "change_quantity": {"quantity": "3"},
}


def press(auth, standin, path, **form):
    standin.clear_requests()
    response = auth.post(path, **form)
    assert response.status_code == 303, response.get_data(as_text=True)
    return [(r.method, r.path) for r in standin.requests]


@pytest.fixture
def later(monkeypatch):
    """later(): the process's clocks move an hour on (what a cache with an expiry would notice)."""

    def move() -> None:
        monotonic, wall = time.monotonic, time.time
        monkeypatch.setattr(time, "monotonic", lambda: monotonic() + HOUR)
        monkeypatch.setattr(time, "time", lambda: wall() + HOUR)

    return move


def test_every_button_makes_one_stripe_call_after_start_and_an_hour_later(auth, standin, later):
    auth.signup()
    auth.subscribe("business_monthly")  # per seat: every button of the account page applies
    keys = ["switch_plan", "change_interval", "change_quantity", "plan_picker", "cancel", "pause"]
    keys += ["update_payment_method", "update_details", "manage_billing"]
    for moment in ("after start", "an hour later"):
        if moment == "an hour later":
            later()
        for key in keys:
            calls = press(auth, standin, BUTTON[key].route, **FORMS.get(key, {}))
            assert len(calls) == 1, (moment, key, calls)


def test_subscribe_is_one_call_once_the_customer_exists(auth, standin, later):
    auth.signup()
    # The very first click also creates the customer (the one click that makes two calls).
    first = press(auth, standin, "/checkout", lookup_key="pro_monthly")
    assert first == [("POST", "/v1/customers"), ("POST", "/v1/checkout/sessions")]
    later()  # back from Checkout without paying, an hour on: one call
    assert press(auth, standin, "/checkout", lookup_key="pro_monthly") == [("POST", "/v1/checkout/sessions")]


def test_an_archived_price_is_refused_with_no_call_once_its_webhook_arrives(app, client, auth, standin):
    auth.signup()
    auth.subscribe("starter_monthly")
    [pro] = [p for p in standin.state.all("price") if p["lookup_key"] == "pro_monthly"]
    app.extensions["stripe"].client.v1.prices.update(pro["id"], {"active": False})  # archived in the Dashboard
    standin.deliver_webhooks()  # price.updated reaches the site, which re-reads the catalog's prices
    with app.app_context():
        assert db.session.get(StripePrice, "pro_monthly").price_id is None
        assert db.session.get(StripePrice, "starter_monthly").price_id is not None
    standin.clear_requests()
    refused = auth.post("/account/switch-plan", lookup_key="pro_monthly")
    assert refused.status_code == 303 and not [r for r in standin.requests if r.path.startswith("/v1/")]
    assert "This plan is not available right now." in client.get("/account").get_data(as_text=True)
