"""A past-due subscription recovers only when its open invoice is paid.

Updating the card only sets the default payment method
(https://docs.stripe.com/customer-management/portal-deep-links); the open
invoice is paid from the portal's invoice list or its hosted_invoice_url
(https://docs.stripe.com/invoicing/hosted-invoice-page), and paying it makes
the subscription active again
(https://docs.stripe.com/billing/subscriptions/overview#subscription-statuses).
"""

from __future__ import annotations

from typing import Any

import stripe
from werkzeug.test import Client

from standin import StandIn
from tests.standin.conftest import PUBLIC_URL
from tests.standin.test_clocks_and_api_subscriptions import DAY, T0, customer_with


def _past_due(client: stripe.StripeClient, catalog: Any) -> tuple[Any, Any]:
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": T0})
    customer, _ = customer_with(client, "pm_card_chargeCustomerFail", test_clock=clock.id)
    sub = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": catalog.pro.id}], "trial_period_days": 1}
    )
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 + 2 * DAY})
    sub = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert sub.status == "past_due" and sub.latest_invoice.status == "open"
    return customer, sub


def _home(client: stripe.StripeClient, customer: Any, page_path: Any) -> str:
    session = client.v1.billing_portal.sessions.create({"customer": customer.id, "return_url": "http://site.test/a"})
    return str(page_path(session.url))


def _new_card(client: stripe.StripeClient, web: Client, page_path: Any, customer: Any, number: str) -> None:
    session = client.v1.billing_portal.sessions.create(
        {"customer": customer.id, "flow_data": {"type": "payment_method_update"}}
    )
    assert web.post(page_path(session.url), data={"card": number}).status_code == 303


def test_a_new_card_alone_does_not_pay_the_open_invoice(
    client: stripe.StripeClient, web: Client, catalog: Any, page_path: Any
) -> None:
    customer, sub = _past_due(client, catalog)
    _new_card(client, web, page_path, customer, "4242424242424242")
    after = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert (after.status, after.latest_invoice.status) == ("past_due", "open")


def test_paying_the_open_invoice_from_the_portal_home_recovers_the_subscription(
    client: stripe.StripeClient, web: Client, catalog: Any, page_path: Any, stand_in: StandIn
) -> None:
    customer, sub = _past_due(client, catalog)
    _new_card(client, web, page_path, customer, "4242424242424242")
    home = _home(client, customer, page_path)
    pay_path = f"{home}/pay/{sub.latest_invoice.id}"
    assert f'action="{pay_path}"' in web.get(home).get_data(as_text=True)

    seen: list[bytes] = []
    stand_in.configure_webhooks("whsec_x", deliver=lambda body, headers: seen.append(body) or 200)
    response = web.post(pay_path)
    assert (response.status_code, response.headers["Location"]) == (303, f"/p/session/{home.split('/')[-1]}/home")
    after = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert (after.status, after.latest_invoice.status, after.latest_invoice.amount_paid) == ("active", "paid", 2500)
    assert after.latest_invoice.amount_remaining == 0
    assert any(b'"invoice.paid"' in body for body in seen)
    assert any(b'"customer.subscription.updated"' in body for body in seen)


def test_paying_with_a_declining_card_leaves_the_invoice_open(
    client: stripe.StripeClient, web: Client, catalog: Any, page_path: Any
) -> None:
    customer, sub = _past_due(client, catalog)
    home = _home(client, customer, page_path)
    response = web.post(f"{home}/pay/{sub.latest_invoice.id}")
    assert response.status_code == 200 and "Your card was declined" in response.get_data(as_text=True)
    after = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert (after.status, after.latest_invoice.status, after.latest_invoice.attempt_count) == ("past_due", "open", 2)


def test_the_hosted_invoice_page_pays_it(
    client: stripe.StripeClient, web: Client, catalog: Any, page_path: Any
) -> None:
    customer, sub = _past_due(client, catalog)
    url = sub.latest_invoice.hosted_invoice_url
    assert url == f"{PUBLIC_URL}/i/{sub.latest_invoice.id}"
    html = web.get(page_path(url)).get_data(as_text=True)
    assert "Amount due" in html and "$25.00" in html
    assert "declined" in web.post(page_path(url)).get_data(as_text=True)  # the declining card is still the default
    _new_card(client, web, page_path, customer, "5555555555554444")
    assert web.post(page_path(url)).status_code == 303
    assert "paid" in web.get(page_path(url)).get_data(as_text=True)
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_a_page_cannot_pay_another_customers_invoice(
    client: stripe.StripeClient, web: Client, catalog: Any, page_path: Any
) -> None:
    _, sub = _past_due(client, catalog)
    other = client.v1.customers.create({"email": "eve@example.com"})
    assert web.post(f"{_home(client, other, page_path)}/pay/{sub.latest_invoice.id}").status_code == 404
