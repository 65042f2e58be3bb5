"""Every plan change states its quantity: the exact `flow_data.subscription_update_confirm.items`
Stripe received, for switches between flat and per-seat plans, interval switches and seats
changes, from the pricing card, the account page and an emailed link.

(In the catalog these tests run on, `starter` and `pro` are flat and `business` is priced
per seat, 1 to 50.)"""

from __future__ import annotations

import html

import pytest

from billing import links
from billing.accounts import find_user
from tests.helpers import CSRF, local_path

SEATS = "/account/seats"


def portal_sessions(standin):
    return [r for r in standin.requests if r.method == "POST" and r.path == "/v1/billing_portal/sessions"]


def price_id(standin, lookup_key):
    return next(o["id"] for o in standin.state.all("price") if o.get("lookup_key") == lookup_key)


def subscribe(client, auth, lookup_key, seats=None):
    """Checkout as a customer does (with `seats` typed on a per-seat card), paid and back."""
    response = auth.post("/checkout", lookup_key=lookup_key, **({"quantity": str(seats)} if seats else {}))
    assert response.status_code == 303, response.get_data(as_text=True)
    paid = client.post(local_path(response.headers["Location"]))
    client.get(local_path(paid.headers["Location"]))
    return auth.user().subscription


def sent_items(standin):
    """The items of the one portal session the site asked for since the last clear."""
    [sent] = portal_sessions(standin)
    flow = sent.params["flow_data"]
    assert flow["type"] == "subscription_update_confirm"
    return flow["subscription_update_confirm"]["items"]


@pytest.fixture
def sasha(client, auth, standin):
    """Sasha: Business monthly, 5 seats."""
    auth.signup("sasha@example.com")
    sub = subscribe(client, auth, "business_monthly", seats=5)
    assert (sub.lookup_key, sub.quantity) == ("business_monthly", 5)
    standin.clear_requests()
    return sub


def test_per_seat_to_flat_sends_one_and_the_portal_confirms_one(client, auth, standin, sasha):
    response = auth.post("/account/switch-plan", lookup_key="pro_yearly")
    assert response.status_code == 303
    assert sent_items(standin) == [{"id": sasha.item_id, "price": price_id(standin, "pro_yearly"), "quantity": "1"}]

    confirm = html.unescape(client.get(local_path(response.headers["Location"])).get_data(as_text=True))
    assert "Quantity: 1" in confirm and "Pro $290.00 / year" in confirm
    client.post(local_path(response.headers["Location"]))
    client.get("/account/return")
    # Cheaper than 5 seats of Business: the portal keeps it for the period's end, at one.
    sub = auth.user().subscription
    assert (sub.scheduled_lookup_key, sub.scheduled_quantity) == ("pro_yearly", 1)
    assert (sub.lookup_key, sub.quantity) == ("business_monthly", 5)


def test_a_quantity_typed_for_a_flat_plan_is_ignored(auth, standin, sasha):
    auth.post("/account/switch-plan", lookup_key="pro_monthly", quantity="5")
    assert sent_items(standin)[0]["quantity"] == "1"


def test_flat_to_per_seat_sends_the_seats_chosen_on_the_card(client, auth, standin):
    auth.signup()
    sub = subscribe(client, auth, "pro_monthly")
    standin.clear_requests()
    pricing = client.get("/").get_data(as_text=True)
    card = pricing[pricing.index("<h2>Business</h2>") :]
    # The card asks, starting at the plan's fewest seats, within the catalog's bounds.
    assert 'name="quantity" type="number" required min="1" max="50" value="1"' in card
    assert 'action="/account/switch-plan"' in card

    response = auth.post("/account/switch-plan", lookup_key="business_monthly", quantity="7")
    assert response.status_code == 303
    assert sent_items(standin) == [{"id": sub.item_id, "price": price_id(standin, "business_monthly"), "quantity": "7"}]
    confirm = client.get(local_path(response.headers["Location"])).get_data(as_text=True)
    assert "Quantity: 7" in confirm


def test_flat_to_per_seat_without_a_number_sends_the_fewest(client, auth, standin):
    auth.signup()
    subscribe(client, auth, "starter_monthly")
    standin.clear_requests()
    auth.post("/account/switch-plan", lookup_key="business_yearly")
    assert sent_items(standin)[0]["quantity"] == "1"


@pytest.mark.parametrize("typed", ["0", "51", "-2", "many", ""])
def test_flat_to_per_seat_outside_the_bounds_is_refused_before_stripe(client, auth, standin, typed):
    auth.signup()
    subscribe(client, auth, "pro_monthly")
    standin.clear_requests()
    response = auth.post("/account/switch-plan", lookup_key="business_monthly", quantity=typed)
    assert response.status_code == 400
    assert "Choose between 1 and 50 seats." in response.get_data(as_text=True)
    assert portal_sessions(standin) == []


def test_per_seat_to_per_seat_keeps_the_seats(client, auth, standin, sasha):
    yearly = client.get("/?interval=year").get_data(as_text=True)
    card = yearly[yearly.index("<h2>Business</h2>") :]
    assert 'value="5"' in card and "Switch to Business" in card  # the seats held, to start with
    auth.post("/account/switch-plan", lookup_key="business_yearly", quantity="5")
    assert sent_items(standin) == [
        {"id": sasha.item_id, "price": price_id(standin, "business_yearly"), "quantity": "5"}
    ]


def test_an_interval_switch_keeps_the_seats_of_a_per_seat_plan(auth, standin, sasha):
    assert auth.post("/account/change-interval").status_code == 303
    assert sent_items(standin) == [
        {"id": sasha.item_id, "price": price_id(standin, "business_yearly"), "quantity": "5"}
    ]


def test_an_interval_switch_of_a_flat_plan_sends_one(client, auth, standin):
    auth.signup()
    sub = subscribe(client, auth, "pro_monthly")
    standin.clear_requests()
    assert auth.post("/account/change-interval").status_code == 303
    assert sent_items(standin) == [{"id": sub.item_id, "price": price_id(standin, "pro_yearly"), "quantity": "1"}]


def test_a_seats_change_sends_the_seats_and_keeps_the_price(auth, standin, sasha):
    assert auth.post(SEATS, quantity="8").status_code == 303
    assert sent_items(standin) == [{"id": sasha.item_id, "quantity": "8"}]


def test_a_switch_link_states_the_quantity_too(app, client, auth, standin, sasha):
    """An emailed link carries no seats: it sends what the card would start with."""
    with app.app_context():
        path = local_path(links.url(links.make(find_user("sasha@example.com"), "switch_plan", "pro_monthly")))
    auth.signout()
    token = CSRF.search(client.get(path).get_data(as_text=True)).group(1)
    assert client.post(path, data={"csrf_token": token}).status_code == 303
    assert sent_items(standin) == [{"id": sasha.item_id, "price": price_id(standin, "pro_monthly"), "quantity": "1"}]
