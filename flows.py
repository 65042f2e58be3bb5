"""Pure builders: (the signed-in user's records, the button pressed) -> Stripe params.

Nothing here talks to Stripe, Flask or the database. Each function returns the
exact params dict that `billing` sends, typed with the Stripe SDK's own
TypedDicts, so mypy checks every key and enum value against the API version the
SDK is pinned to, and tests can compare them with what Stripe received. The
"Show the API call" panels render these same dicts, so they cannot drift.

A customer-portal "deep link" is a billing portal session with `flow_data`: it
opens the hosted portal on one step (confirm a plan switch, cancel, ...)
instead of its home page, then `after_completion` says where the customer
goes when the step is done.

Whether a button may be pressed at all is decided before, in `eligibility`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from catalog import AfterCompletion
from eligibility import SubscriptionFacts

if TYPE_CHECKING:
    # Types only: this module never calls Stripe (billing.py is the one that does).
    from stripe.params.billing_portal import SessionCreateParams as PortalSessionParams
    from stripe.params.billing_portal import SessionCreateParamsFlowData as FlowData
    from stripe.params.billing_portal import (
        SessionCreateParamsFlowDataAfterCompletion as AfterCompletionParams,
    )
    from stripe.params.billing_portal import (
        SessionCreateParamsFlowDataSubscriptionUpdateConfirmItem as ItemParams,
    )
    from stripe.params.checkout import SessionCreateParams as CheckoutSessionParams


@dataclass(frozen=True)
class Session:
    """What every portal session of this user carries, whatever the button."""

    customer: str
    # Where the portal's "back to the site" link goes, at any time.
    return_url: str
    # The portal configuration (None: the account's default one).
    configuration: str | None = None
    # The portal's language; None lets Stripe use the customer's preferred locales.
    locale: str | None = None


@dataclass(frozen=True)
class Discount:
    """A discount for a plan change: a promotion code (promo_...) or a coupon id."""

    promotion_code: str | None = None
    coupon: str | None = None


def _session(s: Session) -> PortalSessionParams:
    params: PortalSessionParams = {"customer": s.customer, "return_url": s.return_url}
    if s.configuration:
        # Without it Stripe uses the account's default portal configuration, which
        # may not list our prices; `flask stripe setup` creates one for this site.
        params["configuration"] = s.configuration
    if s.locale:
        params["locale"] = s.locale
    return params


def _after(ending: AfterCompletion, return_url: str) -> AfterCompletionParams:
    """`after_completion`: back to the site, Stripe's confirmation page, or the portal home."""
    if ending.type == "hosted_confirmation":
        if ending.message:
            return {"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": ending.message}}
        return {"type": "hosted_confirmation"}
    if ending.type == "portal_homepage":
        return {"type": "portal_homepage"}
    return {"type": "redirect", "redirect": {"return_url": return_url}}


def _flow(s: Session, flow: FlowData, ending: AfterCompletion) -> PortalSessionParams:
    params = _session(s)
    flow["after_completion"] = _after(ending, s.return_url)
    params["flow_data"] = flow
    return params


def portal_home(s: Session) -> PortalSessionParams:
    """"Manage billing": the portal's home page (invoices, payment methods, everything)."""
    return _session(s)


def update_confirm(
    s: Session,
    sub: SubscriptionFacts,
    ending: AfterCompletion,
    price_id: str | None = None,
    quantity: int | None = None,
    discount: Discount | None = None,
) -> PortalSessionParams:
    """Switch plan, interval or seats: the portal shows the proration preview and
    asks the customer to confirm.

    The flow names the subscription *item* to change, not just the subscription:
    a subscription can hold several items, and the portal needs to know which
    one moves to the new price (or quantity).
    """
    item: ItemParams = {"id": sub.item_id}
    if price_id is not None:
        item["price"] = price_id
    if quantity is not None:
        item["quantity"] = quantity
    flow: FlowData = {
        "type": "subscription_update_confirm",
        "subscription_update_confirm": {"subscription": sub.id, "items": [item]},
    }
    if discount is not None:
        if discount.promotion_code:
            flow["subscription_update_confirm"]["discounts"] = [{"promotion_code": discount.promotion_code}]
        elif discount.coupon:
            flow["subscription_update_confirm"]["discounts"] = [{"coupon": discount.coupon}]
    return _flow(s, flow, ending)


def plan_picker(s: Session, sub: SubscriptionFacts, ending: AfterCompletion) -> PortalSessionParams:
    """"Browse plans": the portal's own plan picker, for the products its configuration lists."""
    return _flow(s, {"type": "subscription_update", "subscription_update": {"subscription": sub.id}}, ending)


def cancel(
    s: Session, sub: SubscriptionFacts, ending: AfterCompletion, retention_coupon: str | None = None
) -> PortalSessionParams:
    """Cancel: the portal asks for a reason and cancels as its configuration says
    (at period end or now). With a retention coupon, it first offers a discount
    to stay."""
    flow: FlowData = {"type": "subscription_cancel", "subscription_cancel": {"subscription": sub.id}}
    if retention_coupon:
        flow["subscription_cancel"]["retention"] = {
            "type": "coupon_offer",
            "coupon_offer": {"coupon": retention_coupon},
        }
    return _flow(s, flow, ending)


def pause(s: Session, sub: SubscriptionFacts, ending: AfterCompletion) -> PortalSessionParams:
    """Pause: no invoices until resumed (subscriptions in flexible billing mode only)."""
    return _flow(s, {"type": "subscription_pause", "subscription_pause": {"subscription": sub.id}}, ending)


def payment_method_update(s: Session, ending: AfterCompletion) -> PortalSessionParams:
    """Add a card; it becomes the default for the customer's invoices."""
    return _flow(s, {"type": "payment_method_update"}, ending)


def customer_update(s: Session, ending: AfterCompletion) -> PortalSessionParams:
    """Edit billing details: name, email, address."""
    return _flow(s, {"type": "customer_update"}, ending)


def checkout_subscription(
    customer: str,
    price_id: str,
    success_url: str,
    cancel_url: str,
    user_id: int,
    quantity: int = 1,
    promotion_code: str | None = None,
) -> CheckoutSessionParams:
    """First subscription: Stripe Checkout collects the card and creates it.

    Flexible billing mode is what the portal's pause flow and accurate
    prorations need; `{CHECKOUT_SESSION_ID}` is filled in by Stripe, so the
    return route can look the session up.
    """
    params: CheckoutSessionParams = {
        "mode": "subscription",
        "customer": customer,
        "client_reference_id": str(user_id),
        "line_items": [{"price": price_id, "quantity": quantity}],
        "subscription_data": {"billing_mode": {"type": "flexible"}},
        "success_url": success_url + "?checkout_session={CHECKOUT_SESSION_ID}",
        "cancel_url": cancel_url,
    }
    if promotion_code:
        params["discounts"] = [{"promotion_code": promotion_code}]
    return params
