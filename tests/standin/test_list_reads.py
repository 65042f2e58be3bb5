"""The list reads a renewal day makes, through the SDK as the core makes them: one
customer's subscriptions with what a refresh needs expanded, every subscription and
every customer paged 100 at a time (https://docs.stripe.com/api/subscriptions/list,
https://docs.stripe.com/api/customers/list, https://docs.stripe.com/api/pagination,
https://docs.stripe.com/api/expanding_objects), and Stripe's four-level expansion limit."""

from __future__ import annotations

import time
from typing import Any

import pytest
import stripe
from werkzeug.test import Client

from standin import StandIn
from tests.standin.conftest import PUBLIC_URL, make_catalog, page_path, subscribe
from tests.standin.test_schedules import confirm, on_clock

# What a refresh asks for: the customer (with its default card), the schedule, the
# discounts and the latest invoice, inside each subscription.
EXPAND = [
    "data.customer",
    "data.customer.invoice_settings.default_payment_method",
    "data.schedule",
    "data.discounts",
    "data.latest_invoice",
]
MANY = 2_001


def sdk_client(stand_in: StandIn) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_x",
        http_client=stand_in.http_client(),
        base_addresses={"api": "http://standin.test"},
        stripe_version="2026-10-28.endive",
    )


@pytest.fixture(scope="module")
def crowd() -> tuple[StandIn, stripe.StripeClient, list[str]]:
    """2,001 customers, each subscribed through Checkout; their subscription ids, oldest first."""
    stand_in = StandIn(public_url=PUBLIC_URL)
    client = sdk_client(stand_in)
    web = Client(stand_in.wsgi_app)
    catalog = make_catalog(client)
    ids = [subscribe(client, web, catalog.basic.id)[1].id for _ in range(MANY)]
    return stand_in, client, ids


def test_one_customers_subscriptions_come_with_what_a_refresh_needs(client, web, subscribe):
    """status=all, limit=10, the expansions: the customer object inside each subscription,
    with its default payment method; the schedule, discounts and latest invoice too."""
    catalog = make_catalog(client)
    client.v1.billing_portal.configurations.update(
        catalog.configuration.id,
        {
            "features": {
                "subscription_update": {"schedule_at_period_end": {"conditions": [{"type": "decreasing_item_amount"}]}}
            }
        },
    )
    coupon = client.v1.coupons.create({"percent_off": 20, "duration": "forever"})
    # A customer with a downgrade scheduled (a subscription schedule) and a canceled subscription.
    _, customer, scheduled = on_clock(client, catalog.pro.id)
    confirm(client, web, page_path, customer, scheduled, catalog.basic.id)
    canceled = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": catalog.basic.id}]})
    client.v1.subscriptions.cancel(canceled.id)
    # Another customer, with a discount; never listed with the first one's.
    _, discounted = subscribe(catalog.pro.id, discounts=[{"coupon": coupon.id}])

    listed = client.v1.subscriptions.list({"customer": customer.id, "status": "all", "limit": 10, "expand": EXPAND})
    assert [sub.id for sub in listed.data] == [canceled.id, scheduled.id]  # newest first, canceled too
    assert listed.has_more is False and listed.url == "/v1/subscriptions"
    for sub in listed.data:
        assert isinstance(sub.customer, stripe.Customer) and sub.customer.id == customer.id
        card = sub.customer.invoice_settings.default_payment_method
        assert isinstance(card, stripe.PaymentMethod) and card.card is not None and card.card.last4 == "4242"
        assert isinstance(sub.latest_invoice, stripe.Invoice)
    now = listed.data[1]
    assert isinstance(now.schedule, stripe.SubscriptionSchedule) and now.schedule.subscription == scheduled.id
    assert listed.data[0].schedule is None and listed.data[0].status == "canceled"

    [other] = client.v1.subscriptions.list({"customer": discounted.customer, "status": "all", "expand": EXPAND}).data
    [discount] = other.discounts
    assert isinstance(discount, stripe.Discount) and discount.source.coupon == coupon.id


def test_every_subscription_pages_newest_first_100_at_a_time(crowd):
    stand_in, client, ids = crowd
    stand_in.clear_requests()
    listed = client.v1.subscriptions.list({"status": "all", "limit": 100, "expand": EXPAND})
    seen: list[Any] = list(listed.auto_paging_iter())
    assert [sub.id for sub in seen] == ids[::-1]
    assert all(isinstance(sub.customer, stripe.Customer) for sub in seen)
    assert all(isinstance(sub.customer.invoice_settings.default_payment_method, stripe.PaymentMethod) for sub in seen)
    assert all(a.created >= b.created for a, b in zip(seen, seen[1:], strict=False))
    # ceil(2,001 / 100) pages, each after the last one's final id, as the SDK pages.
    pages = [request.params for request in stand_in.requests]
    assert len(pages) == 21 and "starting_after" not in pages[0]
    assert [page["starting_after"] for page in pages[1:]] == [ids[::-1][n * 100 - 1] for n in range(1, 21)]


def test_has_more_and_cursors_both_ways(crowd):
    _, client, ids = crowd
    newest = ids[::-1]
    first = client.v1.subscriptions.list({"status": "all", "limit": 100})
    assert [sub.id for sub in first.data] == newest[:100] and first.has_more
    last = client.v1.subscriptions.list({"status": "all", "limit": 100, "starting_after": newest[2000 - 1]})
    assert [sub.id for sub in last.data] == newest[2000:] and not last.has_more
    back = client.v1.subscriptions.list({"status": "all", "limit": 3, "ending_before": newest[10]})
    assert [sub.id for sub in back.data] == newest[7:10] and back.has_more


def test_every_customer_pages_with_its_default_card(crowd):
    _, client, ids = crowd
    listed = client.v1.customers.list({"limit": 100, "expand": ["data.invoice_settings.default_payment_method"]})
    customers = list(listed.auto_paging_iter())
    assert len(customers) == MANY and len({customer.id for customer in customers}) == MANY
    assert all(
        isinstance(customer.invoice_settings.default_payment_method, stripe.PaymentMethod) for customer in customers
    )


def test_pages_cost_what_they_hold_not_what_came_before(crowd):
    """No O(n^2): with 2,001 subscriptions, the last page costs about what the first does."""
    stand_in, _, ids = crowd
    web = Client(stand_in.wsgi_app)
    newest = ids[::-1]

    def page_seconds(after: str | None) -> float:
        query = [("status", "all"), ("limit", "100")] + [("expand[]", path) for path in EXPAND]
        if after:
            query.append(("starting_after", after))
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            assert (
                web.get(
                    "/v1/subscriptions", query_string=query, headers={"Authorization": "Bearer sk_test_x"}
                ).status_code
                == 200
            )
            best = min(best, time.perf_counter() - started)
        return best

    first, last = page_seconds(None), page_seconds(newest[1899])
    assert last < 2 * first + 0.05, (first, last)


@pytest.mark.parametrize(
    "path",
    ["data.customer.invoice_settings.default_payment_method.customer", "data.items.data.price.product"],
)
def test_expansions_deeper_than_four_levels_are_refused(client, subscribed, path):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.list({"expand": [path]})
    error = caught.value
    assert error.http_status == 400 and error.code == "property_expansion_max_depth"
    assert error.user_message == f"You cannot expand more than 4 levels of a property. Property: {path}"


def test_four_levels_are_fine_on_a_single_object_too(client, subscribed):
    _, sub = subscribed
    fetched = client.v1.subscriptions.retrieve(sub.id, {"expand": ["customer.invoice_settings.default_payment_method"]})
    assert isinstance(fetched.customer.invoice_settings.default_payment_method, stripe.PaymentMethod)
    with pytest.raises(stripe.InvalidRequestError, match="more than 4 levels"):
        client.v1.subscriptions.retrieve(sub.id, {"expand": ["items.data.price.product.default_price"]})
