"""Which buttons a customer sees, with what label, and why the others are hidden.

One pure function, `decide`, from the local subscription mirror and the
portal configuration's features to a `Choice` per button. Pages show the
allowed buttons; routes refuse a POST for a button that is not allowed, with
the same reason, before any Stripe call. Showing only buttons that can
succeed is what keeps customers away from Stripe's error pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from catalog import Price, Product

# Statuses in which a subscription still exists and can be canceled.
LIVE_STATUSES = frozenset({"trialing", "active", "past_due", "unpaid", "paused"})
# Statuses in which the plan can change (Stripe refuses updates to paused
# subscriptions; a past-due one should settle its invoice first).
CHANGEABLE_STATUSES = frozenset({"trialing", "active"})

# Why plan changes are refused, per status that does not allow them.
_NO_CHANGE_REASONS = {
    "past_due": "Your last payment failed: update your payment method first.",
    "unpaid": "Your subscription is unpaid: update your payment method first.",
    "paused": "Your subscription is paused: resume it first.",
    "incomplete": "Your first payment is not complete yet: finish it from Manage billing.",
    "incomplete_expired": "Your subscription never started: choose a plan to subscribe.",
    "canceled": "Your subscription has ended: choose a plan to subscribe again.",
}


@dataclass(frozen=True)
class SubscriptionFacts:
    """The parts of the local subscription mirror the rules and builders need."""

    id: str
    item_id: str
    lookup_key: str | None
    status: str
    item_count: int = 1
    quantity: int = 1
    billing_mode: str = "flexible"
    cancel_at: datetime | None = None  # a scheduled cancellation, whichever field Stripe used


@dataclass(frozen=True)
class PortalFeatures:
    """What the Stripe portal configuration in use allows (see billing.portal_features)."""

    subscription_update: bool = True
    subscription_cancel: bool = True
    cancel_mode: str = "at_period_end"  # or "immediately"
    subscription_pause: bool = False
    payment_method_update: bool = True
    customer_update: bool = True
    # Products (ids) whose quantity the portal lets customers change.
    adjustable_quantity: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Choice:
    allowed: bool
    label: str
    # Why it is not allowed, or (when allowed) what pressing it will do.
    note: str = ""


class NotEligible(Exception):
    """A button that cannot succeed was pressed; the message says why."""


def _no(label: str, reason: str) -> Choice:
    return Choice(False, label, reason)


def decide(
    sub: SubscriptionFacts | None,
    features: PortalFeatures,
    product: Product | None,
    has_customer: bool,
) -> dict[str, Choice]:
    """Every button of the account page, allowed or not, for this customer.

    `sub` is the customer's current subscription (None if they never had one),
    `product` its catalog product (None if not in the catalog).
    """
    live = sub is not None and sub.status in LIVE_STATUSES
    choices = {
        "subscribe": Choice(True, "Choose a plan")
        if not live
        else _no("Choose a plan", "You already have a subscription: change plan instead."),
        "update_payment_method": _feature(features.payment_method_update, "Update payment method", has_customer),
        "update_details": _feature(features.customer_update, "Update billing details", has_customer),
        "manage_billing": Choice(True, "Manage billing", "Invoices, payment methods and more")
        if has_customer
        else _no("Manage billing", "You have no billing history yet."),
    }
    if sub is None or not live:
        reason = _NO_CHANGE_REASONS.get(sub.status if sub else "", "You have no subscription yet: choose a plan.")
        for button, label in _SUBSCRIPTION_BUTTONS.items():
            choices[button] = _no(label, reason)
        return choices

    choices.update(_plan_changes(sub, features, product))
    choices["cancel"] = _cancel(sub, features)
    choices["pause"], choices["resume"] = _pause_and_resume(sub, features)
    return choices


_SUBSCRIPTION_BUTTONS = {
    "switch_plan": "Switch plan",
    "change_interval": "Change billing interval",
    "change_quantity": "Change seats",
    "plan_picker": "Browse plans in the portal",
    "cancel": "Cancel subscription",
    "pause": "Pause subscription",
    "resume": "Resume subscription",
}


def _feature(enabled: bool, label: str, has_customer: bool) -> Choice:
    if not enabled:
        return _no(label, "This is turned off in the billing portal's settings.")
    if not has_customer:
        return _no(label, "You have no billing account yet: choose a plan first.")
    return Choice(True, label)


def _plan_changes(sub: SubscriptionFacts, features: PortalFeatures, product: Product | None) -> dict[str, Choice]:
    reason = ""
    if sub.status not in CHANGEABLE_STATUSES:
        reason = _NO_CHANGE_REASONS[sub.status]
    elif sub.item_count != 1:
        reason = "Subscriptions with several items can only be changed by our team."
    elif not features.subscription_update:
        reason = "Plan changes are turned off in the billing portal's settings."
    if reason:
        return {button: _no(_SUBSCRIPTION_BUTTONS[button], reason) for button in _PLAN_BUTTONS}

    choices = {
        "switch_plan": Choice(True, "Change plan"),
        "plan_picker": Choice(True, "Browse plans in the portal"),
    }
    current = product.prices.get(_interval_of(product, sub.lookup_key)) if product else None
    other = [p for p in product.prices.values() if p != current] if product else []
    if current is None or not other:
        choices["change_interval"] = _no("Change billing interval", "Your plan has no other billing interval.")
    else:
        choices["change_interval"] = Choice(True, f"Switch to {other[0].interval}ly billing")
    if product is None or product.seats is None or product.id not in features.adjustable_quantity:
        choices["change_quantity"] = _no("Change seats", "Your plan is not priced per seat.")
    else:
        choices["change_quantity"] = Choice(True, "Change seats", f"{product.seats.min} to {product.seats.max} seats")
    return choices


_PLAN_BUTTONS = ("switch_plan", "change_interval", "change_quantity", "plan_picker")


def _interval_of(product: Product, lookup_key: str | None) -> str:
    return next((interval for interval, p in product.prices.items() if p.lookup_key == lookup_key), "")


def _cancel(sub: SubscriptionFacts, features: PortalFeatures) -> Choice:
    immediately = features.cancel_mode == "immediately"
    label = "Cancel now" if immediately else "Cancel at period end"
    if not features.subscription_cancel:
        return _no(label, "Cancellation is turned off in the billing portal's settings.")
    if sub.cancel_at is not None:
        return _no(label, "Your subscription is already set to cancel.")
    note = "Access ends immediately." if immediately else "You keep access until the end of the paid period."
    return Choice(True, label, note)


def _pause_and_resume(sub: SubscriptionFacts, features: PortalFeatures) -> tuple[Choice, Choice]:
    if sub.status == "paused":
        return _no("Pause subscription", "Your subscription is paused already."), Choice(True, "Resume subscription")
    not_paused = _no("Resume subscription", "Your subscription is not paused.")
    if not features.subscription_pause:
        return _no("Pause subscription", "Pausing is turned off in the billing portal's settings."), not_paused
    if sub.billing_mode != "flexible":
        return _no("Pause subscription", "Only subscriptions in flexible billing mode can be paused."), not_paused
    if sub.status not in CHANGEABLE_STATUSES:
        return _no("Pause subscription", _NO_CHANGE_REASONS[sub.status]), not_paused
    if sub.cancel_at is not None:
        return _no("Pause subscription", "Your subscription is set to cancel."), not_paused
    return Choice(True, "Pause subscription", "No charges while paused; resume any time."), not_paused


def check_plan_change(sub: SubscriptionFacts, new_price: Price, quantity: int | None = None) -> None:
    """Raise NotEligible unless `sub` can move to `new_price` (and `quantity`)."""
    if sub.status not in CHANGEABLE_STATUSES:
        raise NotEligible(_NO_CHANGE_REASONS.get(sub.status, "This subscription cannot change plan."))
    if sub.item_count != 1:
        raise NotEligible("Subscriptions with several items can only be changed by our team.")
    if sub.lookup_key == new_price.lookup_key and (quantity is None or quantity == sub.quantity):
        raise NotEligible("You are already on this plan." if quantity is None else "You already have this many seats.")
