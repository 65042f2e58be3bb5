"""Seats: a per-seat plan's Checkout starts with the seats chosen on its card, and a
seats change that changes nothing is refused on the account page itself, beside its form."""

from __future__ import annotations

from tests.helpers import local_path


def checkout_sessions(standin):
    return [r for r in standin.requests if r.method == "POST" and r.path == "/v1/checkout/sessions"]


def test_per_seat_checkout_sends_the_chosen_quantity(client, auth, standin):
    auth.signup()
    page = client.get("/").get_data(as_text=True)
    assert 'name="quantity"' in page and 'value="business_monthly"' in page  # the per-seat card asks
    response = auth.post("/checkout", lookup_key="business_monthly", quantity="7")
    assert response.status_code == 303
    [sent] = checkout_sessions(standin)
    assert sent.params["line_items"][0]["quantity"] == "7"
    paid = client.post(local_path(response.headers["Location"]))
    client.get(local_path(paid.headers["Location"]))
    assert auth.user().subscription.quantity == 7


def test_per_seat_checkout_refuses_seats_outside_the_catalog(auth, standin):
    auth.signup()
    for quantity in ("0", "51", "many"):
        response = auth.post("/checkout", lookup_key="business_monthly", quantity=quantity)
        assert response.status_code == 400 and "Choose between 1 and 50 seats." in response.get_data(as_text=True)
    assert checkout_sessions(standin) == []
    # Plans not priced per seat ignore a quantity: always one.
    auth.post("/checkout", lookup_key="pro_monthly", quantity="9")
    [sent] = checkout_sessions(standin)
    assert sent.params["line_items"][0]["quantity"] == "1"


def test_an_unchanged_seat_count_is_refused_beside_the_form(client, auth, standin):
    auth.signup()
    auth.subscribe("business_monthly")
    standin.clear_requests()
    response = auth.post("/account/seats", quantity=str(auth.user().subscription.quantity))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Your account" in page and 'name="quantity"' in page  # the account page, with its seats form
    assert "You already have this many seats." in page
    assert standin.requests == []
