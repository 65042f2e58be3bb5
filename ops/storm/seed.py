"""The renewal day's customers at the stand-in, through the Stripe SDK over HTTP as any
client of Stripe would make them: each a customer with a card and a subscription to a plan
of the catalog; then, once the site's mirror is in sync, each subscription set to cancel at
the period's end and each customer renamed, so that the mirror is stale until the events
are handled. What the stand-in answered to those changes is what the mirror must become."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import stripe

from billing.buttons import PORTAL_BUTTONS
from billing.catalog import load_catalog
from billing.stripe_api import STRIPE_API_VERSION
from ops.storm.site import Mirrored

T = TypeVar("T")
# About 5% of the customers' renewals fail (invoice.payment_failed): each sends one email.
FAILING_EVERY = 20


@dataclass(frozen=True)
class Customer:
    n: int
    id: str
    email: str
    subscription: str
    invoice: str | None  # its latest invoice (the renewal the events are about)

    @property
    def payment_fails(self) -> bool:
        return self.n % FAILING_EVERY == 0


@dataclass(frozen=True)
class Changed:
    """A customer after the stale-making change: the subscription as the stand-in answered it
    (the events' payload) and what the mirror must hold once it has caught up."""

    customer: Customer
    subscription: dict[str, Any]
    expected: Mirrored


def client(api_base: str, key: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        key, base_addresses={"api": api_base}, stripe_version=STRIPE_API_VERSION, max_network_retries=2
    )


def patiently(call: Callable[[], T]) -> T:
    """A seeding call, waited for past the stand-in's rate limit (Stripe's 429, which the
    SDK does not retry unless Stripe says to: https://docs.stripe.com/rate-limits)."""
    for _ in range(100):
        try:
            return call()
        except stripe.RateLimitError:
            time.sleep(0.5)
    return call()


def customers(sdk: stripe.StripeClient, count: int, prefix: str, threads: int) -> list[Customer]:
    """`count` subscribed customers, a plan of the catalog's each in turn (at the plan's
    least quantity), paying by a test card that Stripe charges."""
    catalog = load_catalog(PORTAL_BUTTONS)
    found = patiently(lambda: sdk.v1.prices.list({"lookup_keys": [p.lookup_key for p in catalog.prices], "limit": 100}))
    price_ids = {price.lookup_key: price.id for price in found.data}
    plans = []
    for price in catalog.prices:
        product = catalog.product(price.product_id)
        plans.append((price_ids[price.lookup_key], product.seats.min if product and product.seats else 1))

    def one(n: int) -> Customer:
        email = f"{prefix}{n}@storm.example"
        customer = patiently(
            lambda: sdk.v1.customers.create(
                {
                    "email": email,
                    "name": f"Customer {n}",
                    "payment_method": "pm_card_visa",
                    "invoice_settings": {"default_payment_method": "pm_card_visa"},
                }
            )
        )
        price, quantity = plans[n % len(plans)]
        subscription = patiently(
            lambda: sdk.v1.subscriptions.create(
                {"customer": customer.id, "items": [{"price": price, "quantity": quantity}]}
            )
        )
        invoice = subscription.latest_invoice
        invoice_id = invoice if isinstance(invoice, str) or invoice is None else invoice.id
        return Customer(n, customer.id, email, subscription.id, invoice_id)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(count)))


def change(sdk: stripe.StripeClient, seeded: list[Customer], threads: int) -> list[Changed]:
    """Each subscription set to cancel at its period's end and each customer renamed, at
    Stripe only: what a renewal day's events announce, and the mirror does not know yet."""

    def one(customer: Customer) -> Changed:
        renamed = f"Customer {customer.n} (renewed)"
        subscription = patiently(
            lambda: sdk.v1.subscriptions.update(customer.subscription, {"cancel_at_period_end": True})
        )
        patiently(lambda: sdk.v1.customers.update(customer.id, {"name": renamed}))
        expected = Mirrored(subscription.status, subscription.cancel_at_period_end, renamed)
        # As Stripe sent it (to_dict() would hold Decimals, which JSON cannot carry).
        return Changed(customer, json.loads(str(subscription)), expected)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, seeded))
