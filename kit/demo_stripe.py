"""The Stripe calls only the demo kit makes: persona customers paying with
Stripe's test payment methods, subscriptions made directly, and test clocks
that let time pass (a trial ending on a declining card). Test mode only."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from billing.snapshots import SubscriptionSnapshot, expanded, snapshot
from billing.stripe_api import BillingError, StripeAPI

if TYPE_CHECKING:
    from stripe.params import CustomerCreateParams, SubscriptionCreateParams

# Marks what `flask demo seed` makes, so `flask demo reset` removes only that.
PERSONA_MARKER = "demo_persona"
PERSONA_CLOCK_PREFIX = "Demo persona: "


def create_persona_customer(
    api: StripeAPI, email: str, name: str, persona: str, payment_method: str, test_clock: str | None = None
) -> str:
    """A customer marked as a demo persona, paying with one of Stripe's test
    payment methods (e.g. "pm_card_visa", or "pm_card_chargeCustomerFail",
    which attaches but declines every charge)."""
    with api.calling("create a demo customer"):
        params: CustomerCreateParams = {"email": email, "name": name, "metadata": {PERSONA_MARKER: persona}}
        if test_clock:
            params["test_clock"] = test_clock
        customer = api.client.v1.customers.create(params)
        card = api.client.v1.payment_methods.attach(payment_method, {"customer": customer.id})
        api.client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": card.id}})
    return customer.id


def create_persona_subscription(
    api: StripeAPI,
    customer: str,
    lookup_key: str,
    quantity: int = 1,
    trial_days: int | None = None,
    cancel_at_period_end: bool = False,
) -> SubscriptionSnapshot:
    """A subscription made directly (no Checkout), in flexible billing mode like Checkout's."""
    params: SubscriptionCreateParams = {
        "customer": customer,
        "items": [{"price": api.known_price_id(lookup_key) or api.find_price_id(lookup_key), "quantity": quantity}],
        "billing_mode": {"type": "flexible"},
        "cancel_at_period_end": cancel_at_period_end,
        "expand": expanded(),
    }
    if trial_days:
        params["trial_period_days"] = trial_days
    with api.calling("create a demo subscription"):
        return snapshot(api.client.v1.subscriptions.create(params))


def pause_subscription(api: StripeAPI, subscription_id: str) -> SubscriptionSnapshot:
    with api.calling("pause the subscription"):
        return snapshot(api.client.v1.subscriptions.pause(subscription_id, {"expand": expanded()}))


def cancel_subscription(api: StripeAPI, subscription_id: str) -> SubscriptionSnapshot:
    with api.calling("cancel the subscription"):
        return snapshot(api.client.v1.subscriptions.cancel(subscription_id, {"expand": expanded()}))


def create_test_clock(api: StripeAPI, name: str) -> tuple[str, int]:
    """A test clock frozen at the current time; returns its id and that time.
    A customer made on it lives in the clock's time, which `advance_test_clock` moves."""
    with api.calling("create a test clock"):
        clock = api.client.v1.test_helpers.test_clocks.create({"frozen_time": int(time.time()), "name": name})
    return clock.id, clock.frozen_time


def advance_test_clock(api: StripeAPI, clock_id: str, frozen_time: int, timeout: float = 120.0) -> None:
    """Move a test clock forward and wait until Stripe has played out what happens meanwhile."""
    with api.calling("advance a test clock"):
        clock = api.client.v1.test_helpers.test_clocks.advance(clock_id, {"frozen_time": frozen_time})
        deadline = time.monotonic() + timeout
        while clock.status == "advancing":
            if time.monotonic() > deadline:
                raise BillingError(f"Test clock {clock_id} is still advancing after {timeout:.0f} s.")
            time.sleep(1)
            clock = api.client.v1.test_helpers.test_clocks.retrieve(clock_id)
    if clock.status != "ready":
        raise BillingError(f"Test clock {clock_id} ended in status {clock.status}.")


def persona_customers(api: StripeAPI, email: str, persona: str) -> list[str]:
    """Ids of the customers with this email that were made for this persona."""
    with api.calling("find demo customers"):
        found = api.client.v1.customers.list({"email": email, "limit": 100})
        return [
            c.id for c in found.auto_paging_iter() if c.metadata and c.metadata.to_dict().get(PERSONA_MARKER) == persona
        ]


def persona_test_clocks(api: StripeAPI, name: str) -> list[str]:
    """Ids of the test clocks `flask demo seed` made under this name."""
    with api.calling("find demo test clocks"):
        clocks = api.client.v1.test_helpers.test_clocks.list({"limit": 100})
        return [c.id for c in clocks.auto_paging_iter() if c.name == name]


def delete_customer(api: StripeAPI, customer_id: str) -> None:
    """Delete a customer; Stripe cancels its subscriptions at once."""
    with api.calling("delete a customer"):
        api.client.v1.customers.delete(customer_id)


def delete_test_clock(api: StripeAPI, clock_id: str) -> None:
    """Delete a test clock, and with it every customer that lives on it."""
    with api.calling("delete a test clock"):
        api.client.v1.test_helpers.test_clocks.delete(clock_id)
