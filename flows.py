"""Pure builders: (the signed-in user's records, the button pressed) -> Stripe params.

Nothing here talks to Stripe, Flask or the database. Each function returns the
exact params dict that `billing` sends, typed with the Stripe SDK's own
TypedDicts, so mypy checks every key and enum value against the API version the
SDK is pinned to, and tests can compare them with what Stripe received.

A customer-portal "deep link" is a billing portal session with `flow_data`: it
opens the hosted portal on one step (confirm a plan switch, cancel, ...)
instead of its home page, then `after_completion` sends the customer back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from catalog import Price

if TYPE_CHECKING:
    # Types only: this module never calls Stripe (billing.py is the one that does).
    from stripe.params.billing_portal import SessionCreateParams as PortalSessionParams
    from stripe.params.checkout import SessionCreateParams as CheckoutSessionParams

# Statuses in which a subscription still exists and can change plan or be canceled.
# (`incomplete` subscriptions have never been paid; `canceled` and
# `incomplete_expired` are final.)
LIVE_STATUSES = frozenset({"trialing", "active", "past_due", "unpaid", "paused"})


@dataclass(frozen=True)
class SubscriptionFacts:
    """The parts of the local subscription mirror a builder needs."""

    id: str
    item_id: str
    lookup_key: str | None
    status: str
    item_count: int = 1


class NotEligible(Exception):
    """The button cannot succeed for this subscription; the message says why."""


def _portal_session(
    customer: str, return_url: str, configuration: str | None
) -> PortalSessionParams:
    params: PortalSessionParams = {"customer": customer, "return_url": return_url}
    if configuration:
        # Without it Stripe uses the account's default portal configuration, which
        # may not list our prices; the setup creates one and names it in settings.
        params["configuration"] = configuration
    return params


def portal_home(customer: str, return_url: str, configuration: str | None) -> PortalSessionParams:
    """"Manage billing": the portal's home page (invoices, payment methods, everything)."""
    return _portal_session(customer, return_url, configuration)


def check_plan_change(subscription: SubscriptionFacts, new_price: Price) -> None:
    """Raise NotEligible unless the subscription can be moved to `new_price`."""
    if subscription.status not in LIVE_STATUSES:
        raise NotEligible(f"A subscription that is {subscription.status} cannot change plan.")
    if subscription.item_count != 1:
        raise NotEligible("Subscriptions with several items cannot switch plan here.")
    if subscription.lookup_key == new_price.lookup_key:
        raise NotEligible("You are already on this plan.")


def update_confirm(
    customer: str,
    subscription: SubscriptionFacts,
    new_price: Price,
    new_price_id: str,
    return_url: str,
    configuration: str | None,
) -> PortalSessionParams:
    """Switch plan: the portal shows the proration preview and asks to confirm.

    The flow names the subscription *item* to change, not just the subscription:
    a subscription can hold several items, and the portal needs to know which
    one moves to the new price.
    """
    check_plan_change(subscription, new_price)
    params = _portal_session(customer, return_url, configuration)
    params["flow_data"] = {
        "type": "subscription_update_confirm",
        "subscription_update_confirm": {
            "subscription": subscription.id,
            "items": [{"id": subscription.item_id, "price": new_price_id}],
        },
        "after_completion": {"type": "redirect", "redirect": {"return_url": return_url}},
    }
    return params


def cancel(
    customer: str, subscription: SubscriptionFacts, return_url: str, configuration: str | None
) -> PortalSessionParams:
    """Cancel: the portal asks for a reason and cancels as its configuration says."""
    if subscription.status not in LIVE_STATUSES:
        raise NotEligible(f"A subscription that is {subscription.status} cannot be canceled.")
    params = _portal_session(customer, return_url, configuration)
    params["flow_data"] = {
        "type": "subscription_cancel",
        "subscription_cancel": {"subscription": subscription.id},
        "after_completion": {"type": "redirect", "redirect": {"return_url": return_url}},
    }
    return params


def checkout_subscription(
    customer: str, price_id: str, success_url: str, cancel_url: str, user_id: int
) -> CheckoutSessionParams:
    """First subscription: Stripe Checkout collects the card and creates it.

    Flexible billing mode is what the portal's pause flow and accurate
    prorations need; `{CHECKOUT_SESSION_ID}` is filled in by Stripe, so the
    return route can look the session up.
    """
    return {
        "mode": "subscription",
        "customer": customer,
        "client_reference_id": str(user_id),
        "line_items": [{"price": price_id, "quantity": 1}],
        "subscription_data": {"billing_mode": {"type": "flexible"}},
        "success_url": success_url + "?checkout_session={CHECKOUT_SESSION_ID}",
        "cancel_url": cancel_url,
    }
