"""Which buttons a customer sees, and why the others are hidden: pure rules.

One rule per button, from the local subscription mirror and the portal
configuration's features to a `Choice` (each button names its rule in
`billing.buttons`). Pages show the allowed buttons; a POST for a button that
is not allowed is refused with the same reason, before any Stripe call.
Showing only buttons that can succeed keeps customers off Stripe's error pages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from billing.catalog import Price, Product

# Statuses after which a subscription is over: nothing renews it, and another one may
# have replaced it.
ENDED_STATUSES = frozenset({"canceled", "incomplete_expired"})
# Statuses in which a subscription still exists and can be canceled.
LIVE_STATUSES = frozenset({"trialing", "active", "past_due", "unpaid", "paused"})
# Statuses in which the plan can change (Stripe refuses updates to paused
# subscriptions; a past-due one should settle its invoice first).
CHANGEABLE_STATUSES = frozenset({"trialing", "active"})

# What pressing Cancel does, by the portal's cancel mode; while that is unknown, words
# true of either (the portal's own step says which before the customer confirms).
CANCEL_LABELS = {"immediately": "Cancel now", "at_period_end": "Cancel at period end"}
CANCEL_NOTES = {
    "immediately": "Access ends immediately.",
    "at_period_end": "You keep access until the end of the paid period.",
}
CANCEL_NOTE_UNKNOWN = "The billing portal shows when your access ends before you confirm."
CANCEL_SCHEDULED = "Your subscription is set to cancel: renew it from Manage billing before changing plan."
# The portal opens no other plan change while one waits for the period's end.
CHANGE_SCHEDULED = "Your plan change is scheduled for the end of the period: keep your current plan first."
# Why plan changes are refused, per status that does not allow them.
_NO_CHANGE_REASONS = {
    "past_due": "Your last payment failed: pay the open invoice (Manage billing) first.",
    "unpaid": "Your subscription is unpaid: pay the open invoice (Manage billing) first.",
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
    # A plan change waiting in a subscription schedule for the period's end, and when it starts.
    schedule_id: str | None = None
    changes_at: datetime | None = None


@dataclass(frozen=True)
class PortalFeatures:
    """What the Stripe portal configuration in use allows, as mirrored in the database
    (`billing.portal_facts`). Where it is unknown (never read: Stripe was down at start and
    nothing was stored) the rules get None instead, never a guess. The defaults are a
    configuration as `flask stripe setup` makes it, for tests; the site fills every field."""

    subscription_update: bool = True
    subscription_cancel: bool = True
    cancel_mode: str = "at_period_end"  # or "immediately"
    # How plan changes are billed (create_prorations, always_invoice or none).
    proration_behavior: str = "create_prorations"
    subscription_pause: bool = False
    payment_method_update: bool = True
    customer_update: bool = True
    # What `subscription_update` may switch to: product id -> its price ids.
    update_products: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Products (ids) whose quantity the portal lets customers change.
    adjustable_quantity: frozenset[str] = frozenset()
    # When the portal schedules a plan change for the period's end instead of making it now
    # (`schedule_at_period_end.conditions`: decreasing_item_amount, shortening_interval).
    schedule_conditions: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Choice:
    allowed: bool
    # The button's label when it depends on the facts ("Cancel now"); "" keeps the registry's.
    label: str
    # Why it is not allowed, or (when allowed) what pressing it will do.
    note: str = ""


class NotEligible(Exception):
    """A button that cannot succeed was pressed; the message says why."""


@dataclass(frozen=True)
class Facts:
    """What every rule reads: the customer's current subscription (None if they
    never had one), its catalog product (None if not in the catalog), what the
    portal configuration allows (None while unknown), and whether a Stripe customer exists yet."""

    sub: SubscriptionFacts | None
    features: PortalFeatures | None
    product: Product | None = None
    has_customer: bool = False

    @property
    def live(self) -> bool:
        return self.sub is not None and self.sub.status in LIVE_STATUSES


# A rule: one button's answer for these facts. Each button names its rule in
# `billing.buttons.BUTTONS`; a refused Choice always says why.
Rule = Callable[[Facts], Choice]


def _yes(note: str = "", label: str = "") -> Choice:
    return Choice(True, label, note)


def _no(reason: str, label: str = "") -> Choice:
    return Choice(False, label, reason)


def subscribe(f: Facts) -> Choice:
    return _no("You already have a subscription: switch plan from the pricing or account page.") if f.live else _yes()


def manage_billing(f: Facts) -> Choice:
    """Open to anyone with a Stripe customer, a canceled one too (invoices)."""
    return _yes("Invoices, payment methods and more") if f.has_customer else _no("You have no billing history yet.")


def update_payment_method(f: Facts) -> Choice:
    return _portal_feature(f.features.payment_method_update if f.features else None, f.has_customer)


def update_details(f: Facts) -> Choice:
    return _portal_feature(f.features.customer_update if f.features else None, f.has_customer)


# While the portal's features are unknown, the buttons that need one are offered: if the
# portal has it turned off, Stripe refuses the session and the customer reads why, on our page.
def _portal_feature(enabled: bool | None, has_customer: bool) -> Choice:
    if enabled is False:
        return _no("This is turned off in the billing portal's settings.")
    if not has_customer:
        return _no("You have no billing account yet: choose a plan first.")
    return _yes()


def _not_live(f: Facts) -> str:
    """Why a subscription button can't be used at all, or "" if it has a live subscription."""
    if f.live:
        return ""
    return _NO_CHANGE_REASONS.get(f.sub.status if f.sub else "", "You have no subscription yet: choose a plan.")


def _plan_change_refusal(f: Facts) -> str:
    """Why the plan can't change (switch, interval, seats, plan picker), or ""."""
    if reason := _not_live(f):
        return reason
    assert f.sub is not None
    if f.sub.status not in CHANGEABLE_STATUSES:
        return _NO_CHANGE_REASONS[f.sub.status]
    if f.sub.item_count != 1:
        return "Subscriptions with several items can only be changed by our team."
    if f.sub.cancel_at is not None:
        # The page promises no further charges: a switch now would bill the new plan.
        return CANCEL_SCHEDULED
    if f.sub.changes_at is not None:
        return CHANGE_SCHEDULED
    if f.features is not None and not f.features.subscription_update:
        return "Plan changes are turned off in the billing portal's settings."
    return ""


def switch_plan(f: Facts) -> Choice:
    return _no(reason) if (reason := _plan_change_refusal(f)) else _yes()


def plan_picker(f: Facts) -> Choice:
    return _no(reason) if (reason := _plan_change_refusal(f)) else _yes()


def change_interval(f: Facts) -> Choice:
    if reason := _plan_change_refusal(f):
        return _no(reason)
    assert f.sub is not None
    product = f.product
    current = next((p for p in product.prices.values() if p.lookup_key == f.sub.lookup_key), None) if product else None
    other = [p for p in product.prices.values() if p != current] if product and current else []
    if not other:
        return _no("Your plan has no other billing interval.")
    return _yes(label=f"Switch to {other[0].interval}ly billing")


def change_quantity(f: Facts) -> Choice:
    if reason := _plan_change_refusal(f):
        return _no(reason)
    product = f.product
    if product is None or product.seats is None:
        return _no("Your plan is not priced per seat.")
    if f.features is not None and product.id not in f.features.adjustable_quantity:
        return _no("The billing portal's settings do not let customers change seats on this plan.")
    return _yes(f"{product.seats.min} to {product.seats.max} seats")


# [tutorial: cancel]
def cancel(f: Facts) -> Choice:
    mode = f.features.cancel_mode if f.features else None  # None: the portal's settings are unknown
    label = CANCEL_LABELS.get(mode or "", "Cancel subscription")
    if reason := _not_live(f):
        return _no(reason, label)
    assert f.sub is not None
    if f.features is not None and not f.features.subscription_cancel:
        return _no("Cancellation is turned off in the billing portal's settings.", label)
    if f.sub.cancel_at is not None:
        return _no("Your subscription is already set to cancel.", label)
    return _yes(CANCEL_NOTES.get(mode or "", CANCEL_NOTE_UNKNOWN), label)


# [end]


def pause(f: Facts) -> Choice:
    if reason := _not_live(f):
        return _no(reason)
    assert f.sub is not None
    if f.sub.status == "paused":
        return _no("Your subscription is paused already.")
    if f.features is not None and not f.features.subscription_pause:
        return _no("Pausing is turned off in the billing portal's settings.")
    if f.sub.billing_mode != "flexible":
        return _no("Only subscriptions in flexible billing mode can be paused.")
    if f.sub.status not in CHANGEABLE_STATUSES:
        return _no(_NO_CHANGE_REASONS[f.sub.status])
    if f.sub.cancel_at is not None:
        return _no("Your subscription is set to cancel.")
    if f.sub.changes_at is not None:
        # Time does not move a paused subscription on to the schedule's next phase.
        return _no(CHANGE_SCHEDULED)
    return _yes("No charges while paused; resume any time.")


def resume(f: Facts) -> Choice:
    if reason := _not_live(f):
        return _no(reason)
    assert f.sub is not None
    return _yes() if f.sub.status == "paused" else _no("Your subscription is not paused.")


def keep_plan(f: Facts) -> Choice:
    """Release the schedule that holds a plan change for the period's end: the
    subscription stays as it is (https://docs.stripe.com/api/subscription_schedules/release)."""
    label = f"Keep {f.product.name}" if f.product else "Keep my current plan"
    if reason := _not_live(f):
        return _no(reason, label)
    assert f.sub is not None
    if f.sub.changes_at is None or f.sub.schedule_id is None:
        return _no("You have no plan change scheduled.", label)
    return _yes("Cancels the scheduled switch; nothing is charged now.", label)


def check_plan_change(sub: SubscriptionFacts, new_price: Price, quantity: int | None = None) -> None:
    """Raise NotEligible unless `sub` can move to `new_price` (and `quantity`)."""
    if sub.status not in CHANGEABLE_STATUSES:
        raise NotEligible(_NO_CHANGE_REASONS.get(sub.status, "This subscription cannot change plan."))
    if sub.item_count != 1:
        raise NotEligible("Subscriptions with several items can only be changed by our team.")
    if sub.cancel_at is not None:
        raise NotEligible(CANCEL_SCHEDULED)
    if sub.changes_at is not None:
        raise NotEligible(CHANGE_SCHEDULED)
    if sub.lookup_key == new_price.lookup_key and (quantity is None or quantity == sub.quantity):
        raise NotEligible("You are already on this plan." if quantity is None else "You already have this many seats.")
