"""Exactly one Stripe call per click, at any time after start: the catalog's price ids
are mirrored locally (read at start, by `flask stripe setup`, and on price.* and
product.* webhooks), never re-fetched on a timer; an archived price is refused with
no Stripe call as soon as its webhook arrives."""

from __future__ import annotations

import time

import pytest

from billing.buttons import BUTTON
from billing.models import StripePrice, db
from tests.helpers import Auth, local_path

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


def reads(standin):
    return [(r.method, r.path.split("/")[2]) for r in standin.requests if r.path.startswith("/v1/")]


@pytest.mark.parametrize(
    ("button", "data", "read"),
    [
        ("/account/switch-plan", {"lookup_key": "pro_monthly"}, ("GET", "subscriptions")),
        ("/account/payment-method", {"card": "5555555555554444"}, ("GET", "customers")),
    ],
)
def test_the_way_back_reads_stripe_once_what_the_step_could_change(client, auth, standin, button, data, read):
    auth.signup()
    auth.subscribe("starter_monthly")
    step = auth.post(button, **({"lookup_key": data["lookup_key"]} if "lookup_key" in data else {}))
    done = client.post(local_path(step.headers["Location"]), data={} if "lookup_key" in data else data)
    standin.clear_requests()
    client.get(local_path(done.headers["Location"]))  # /account/return
    assert reads(standin) == [read]


def test_checkout_return_is_one_read(client, auth, standin):
    auth.signup()
    step = auth.post("/checkout", lookup_key="starter_monthly")
    paid = client.post(local_path(step.headers["Location"]))
    standin.clear_requests()
    client.get(local_path(paid.headers["Location"]))
    assert reads(standin) == [("GET", "checkout")]
    assert auth.user().subscription.status == "active"
    assert "Visa ending in 4242" in client.get("/account").get_data(as_text=True)  # the card, from the same read


def test_the_ways_back_are_limited_per_customer(client, auth, standin):
    auth.signup()
    auth.subscribe("starter_monthly")
    standin.clear_requests()
    answers = [client.get("/account/return") for _ in range(12)]
    assert [(a.status_code, a.headers["Location"]) for a in answers] == [(303, "/account")] * 12
    assert len(reads(standin)) == 10  # none once limited: the account as the mirror has it


@pytest.mark.parametrize("whose", ["unknown", "another customer's"])
def test_a_checkout_session_that_is_not_yours_gets_one_clear_message(app, client, auth, standin, whose):
    session_id = "cs_test_unknown"
    if whose == "another customer's":
        other = Auth(app.test_client(), app)
        other.signup("bob@example.com")
        session_id = local_path(other.post("/checkout", lookup_key="pro_monthly").headers["Location"]).split("/")[-1]
    auth.signup()
    auth.post("/checkout", lookup_key="starter_monthly")  # a customer of our own, no subscription
    for _ in range(3):  # reloaded: the message does not stack up
        client.get(f"/checkout/return?checkout_session={session_id}")
    page = client.get("/account").get_data(as_text=True)
    assert page.count("We found no payment of yours at that address") == 1
    assert "payment went through" not in page and auth.user().subscription is None
