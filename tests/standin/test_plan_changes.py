"""Changing plans in the portal bills as Stripe does.

A price with another billing interval restarts the period now and invoices at
once, with a credit for the unused time
(https://docs.stripe.com/billing/subscriptions/upgrade-downgrade); within the
same interval the period is kept and the portal configuration's
`proration_behavior` decides what is billed.
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from werkzeug.test import Client

from standin import StandIn, effects, objects

DAY = 86400


def _half_way(stand_in: StandIn, sub_id: str) -> int:
    """Put the subscription's (30-day) period half way through; returns its end."""
    now = objects.now()
    item = stand_in.state.objects[sub_id]["items"]["data"][0]
    item["current_period_start"], item["current_period_end"] = now - 15 * DAY, now + 15 * DAY
    return now + 15 * DAY


def _confirm(client: stripe.StripeClient, web: Client, page_path: Any, customer: Any, sub: Any, price: str) -> Any:
    session = client.v1.billing_portal.sessions.create(
        {
            "customer": customer.id,
            "return_url": "http://site.test/account",
            "flow_data": {
                "type": "subscription_update_confirm",
                "subscription_update_confirm": {
                    "subscription": sub.id,
                    "items": [{"id": sub["items"].data[0].id, "price": price}],
                },
            },
        }
    )
    return web.post(page_path(session.url))


def _set_proration(client: stripe.StripeClient, catalog: Any, behavior: str) -> None:
    client.v1.billing_portal.configurations.update(
        catalog.configuration.id, {"features": {"subscription_update": {"proration_behavior": behavior}}}
    )


@pytest.fixture
def yearly(client: stripe.StripeClient, catalog: Any) -> Any:
    price = client.v1.prices.create(
        {"product": "basic", "unit_amount": 10000, "currency": "usd", "recurring": {"interval": "year"}}
    )
    client.v1.billing_portal.configurations.update(
        catalog.configuration.id,
        {
            "features": {
                "subscription_update": {
                    "products": [
                        {"product": "basic", "prices": [catalog.basic.id, price.id]},
                        {"product": "pro", "prices": [catalog.pro.id]},
                    ]
                }
            }
        },
    )
    return price


def test_monthly_to_yearly_restarts_the_period_and_invoices_now_with_a_credit(
    client: stripe.StripeClient, web: Client, page_path: Any, stand_in: StandIn, subscribed: Any, yearly: Any
) -> None:
    customer, sub = subscribed
    _half_way(stand_in, sub.id)
    before = objects.now()
    assert _confirm(client, web, page_path, customer, sub, yearly.id).status_code == 303

    after = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    item = after["items"].data[0]
    assert item.price.id == yearly.id
    assert item.current_period_start >= before and after.billing_cycle_anchor == item.current_period_start
    assert item.current_period_end == objects.add_interval(item.current_period_start, "year")
    invoice = after.latest_invoice
    amounts = [(line.amount, line.parent.subscription_item_details.proration) for line in invoice.lines.data]
    # Half of the $10 month unused is credited; the year is charged in full.
    assert amounts == [(-500, True), (10000, False)]
    assert (invoice.billing_reason, invoice.status, invoice.amount_paid) == ("subscription_update", "paid", 9500)


def test_interval_change_on_a_declining_card_changes_nothing(
    client: stripe.StripeClient, web: Client, page_path: Any, stand_in: StandIn, subscribed: Any, yearly: Any
) -> None:
    customer, sub = subscribed
    pm_session = client.v1.billing_portal.sessions.create(
        {"customer": customer.id, "flow_data": {"type": "payment_method_update"}}
    )
    web.post(page_path(pm_session.url), data={"card": "4000000000000341"})
    end = _half_way(stand_in, sub.id)
    response = _confirm(client, web, page_path, customer, sub, yearly.id)
    assert response.status_code == 200 and "Your card was declined." in response.get_data(as_text=True)
    item = client.v1.subscriptions.retrieve(sub.id)["items"].data[0]
    assert (item.price.id, item.current_period_end) == (sub["items"].data[0].price.id, end)


def test_same_interval_with_none_keeps_the_period_and_bills_nothing(
    client: stripe.StripeClient, web: Client, page_path: Any, stand_in: StandIn, catalog: Any, subscribed: Any
) -> None:
    customer, sub = subscribed
    end = _half_way(stand_in, sub.id)
    _confirm(client, web, page_path, customer, sub, catalog.pro.id)
    after = client.v1.subscriptions.retrieve(sub.id)
    assert (after["items"].data[0].price.id, after["items"].data[0].current_period_end) == (catalog.pro.id, end)
    assert len(client.v1.invoices.list({"customer": customer.id}).data) == 1


def test_same_interval_with_always_invoice_bills_the_prorations_now(
    client: stripe.StripeClient, web: Client, page_path: Any, stand_in: StandIn, catalog: Any, subscribed: Any
) -> None:
    customer, sub = subscribed
    _set_proration(client, catalog, "always_invoice")
    end = _half_way(stand_in, sub.id)
    _confirm(client, web, page_path, customer, sub, catalog.pro.id)
    after = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert after["items"].data[0].current_period_end == end
    invoice = after.latest_invoice
    # Unused half of Basic ($10) credited, remaining half of Pro ($25) charged.
    assert [line.amount for line in invoice.lines.data] == [-500, 1250]
    assert all(line.parent.subscription_item_details.proration for line in invoice.lines.data)
    assert (invoice.billing_reason, invoice.amount_paid) == ("subscription_update", 750)


def test_same_interval_with_create_prorations_leaves_them_for_the_next_invoice(
    client: stripe.StripeClient, web: Client, page_path: Any, stand_in: StandIn, catalog: Any, subscribed: Any
) -> None:
    customer, sub = subscribed
    _set_proration(client, catalog, "create_prorations")
    end = _half_way(stand_in, sub.id)
    _confirm(client, web, page_path, customer, sub, catalog.pro.id)
    assert len(client.v1.invoices.list({"customer": customer.id}).data) == 1  # nothing invoiced yet

    # The renewal picks the prorations up along with the new period.
    with stand_in.state.lock, objects.frozen_at(end):
        effects._change(stand_in.state, stand_in.state.objects[sub.id], end)
    invoice = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]}).latest_invoice
    assert [line.amount for line in invoice.lines.data] == [-500, 1250, 2500]
    assert invoice.amount_paid == 3250
