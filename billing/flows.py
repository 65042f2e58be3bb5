"""Pure builders: (the signed-in user's records, the button pressed) -> Stripe params.

Nothing here talks to Stripe, Flask or the database. Each function returns the
exact params dict that `billing.stripe_api` sends, typed with the Stripe SDK's own
TypedDicts, so mypy checks every key and enum value against the API version the
SDK is pinned to, and tests can compare them with what Stripe received. The
"Show the API call" panels render these same dicts, so they cannot drift.

A customer-portal "deep link" is a billing portal session with `flow_data`: it
opens the hosted portal on one step (confirm a plan switch, cancel, ...)
instead of its home page, then `after_completion` says where the customer
goes when the step is done.

Whether a button may be pressed at all is decided before, in `eligibility`;
which builder each button uses is declared in `buttons`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from billing.catalog import AfterCompletion
from billing.eligibility import SubscriptionFacts
from billing.snapshots import expanded

if TYPE_CHECKING:
    # Types only: this module never calls Stripe (billing.stripe_api is the one that does).
    from stripe.params import SubscriptionResumeParams, SubscriptionScheduleReleaseParams
    from stripe.params.billing_portal import SessionCreateParams as PortalSessionParams
    from stripe.params.billing_portal import SessionCreateParamsFlowData as FlowData
    from stripe.params.billing_portal import (
        SessionCreateParamsFlowDataAfterCompletion as AfterCompletionParams,
    )
    from stripe.params.billing_portal import (
        SessionCreateParamsFlowDataSubscriptionUpdateConfirmItem as ItemParams,
    )
    from stripe.params.checkout import SessionCreateParams as CheckoutSessionParams


# The locales a portal session may be opened in (e.g. "de", "pt-BR"): the `locale` of
# https://docs.stripe.com/api/customer_portal/sessions/create but "auto". A test checks
# this list against the SDK's SessionCreateParams, so an SDK upgrade that adds one says so.
PORTAL_LOCALES = (
    *("bg", "cs", "da", "de", "el", "en", "en-AU", "en-CA", "en-GB", "en-IE", "en-IN", "en-NZ", "en-SG"),
    *("es", "es-419", "et", "fi", "fil", "fr", "fr-CA", "hr", "hu", "id", "it", "ja", "ko", "lt", "lv"),
    *("ms", "mt", "nb", "nl", "pl", "pt", "pt-BR", "ro", "ru", "sk", "sl", "sv", "th", "tr", "vi"),
    *("zh", "zh-HK", "zh-TW"),
)


@dataclass(frozen=True)
class Discount:
    """A discount for a plan change: a promotion code (promo_...) or a coupon id."""

    promotion_code: str | None = None
    coupon: str | None = None


@dataclass(frozen=True)
class Release:
    """`POST /v1/subscription_schedules/{schedule}/release`: which schedule, and the params."""

    schedule: str
    params: SubscriptionScheduleReleaseParams


@dataclass(frozen=True)
class Press:
    """One press of a button, as every builder sees it: plain values only.

    The view fills in what the button needs (see `billing.buttons`); a builder
    reads the fields its Stripe call takes and ignores the rest."""

    customer: str
    # Where the customer comes back to: the portal's "back to the site" link and a
    # redirect ending; Checkout's success URL.
    return_url: str
    ending: AfterCompletion = AfterCompletion()
    # The portal configuration (None: the account's default one).
    configuration: str | None = None
    # The portal's language; None lets Stripe use the customer's preferred locales.
    locale: str | None = None
    sub: SubscriptionFacts | None = None
    price_id: str | None = None
    quantity: int | None = None
    discount: Discount | None = None
    retention_coupon: str | None = None
    # Checkout only: the pricing page to go back to, and our billing account's id for Stripe's records.
    cancel_url: str = ""
    account_id: int = 0

    @property
    def subscription(self) -> SubscriptionFacts:
        assert self.sub is not None, "eligibility lets subscription buttons through only with one"
        return self.sub


def _session(p: Press) -> PortalSessionParams:
    params: PortalSessionParams = {"customer": p.customer, "return_url": p.return_url}
    if p.configuration:
        # Without it Stripe uses the account's default portal configuration, which
        # may not list our prices; `flask stripe setup` creates one for this site.
        params["configuration"] = p.configuration
    if p.locale:
        params["locale"] = p.locale
    return params


# [tutorial: after-completion]
def _after(ending: AfterCompletion, return_url: str) -> AfterCompletionParams:
    """`after_completion`: back to the site, Stripe's confirmation page, or the portal home."""
    if ending.type == "hosted_confirmation":
        if ending.message:
            return {"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": ending.message}}
        return {"type": "hosted_confirmation"}
    if ending.type == "portal_homepage":
        return {"type": "portal_homepage"}
    return {"type": "redirect", "redirect": {"return_url": return_url}}


# [end]


def _flow(p: Press, flow: FlowData) -> PortalSessionParams:
    params = _session(p)
    flow["after_completion"] = _after(p.ending, p.return_url)
    params["flow_data"] = flow
    return params


def portal_home(p: Press) -> PortalSessionParams:
    """ "Manage billing": the portal's home page (invoices, payment methods, everything)."""
    return _session(p)


# [tutorial: update-confirm]
def update_confirm(p: Press) -> PortalSessionParams:
    """Switch plan, interval or seats: the portal shows the proration preview and
    asks the customer to confirm.

    The flow names the subscription *item* to change, not just the subscription:
    a subscription can hold several items, and the portal needs to know which
    one moves to the new price (or quantity). It always states the quantity
    (billing.quantities decides it, and says why): without one, 5 seats of a
    per-seat plan could become 5 of a flat one.
    """
    assert p.quantity is not None, "a plan change states its quantity (the button's check decides it)"
    item: ItemParams = {"id": p.subscription.item_id}
    if p.price_id is not None:
        item["price"] = p.price_id
    item["quantity"] = p.quantity
    flow: FlowData = {
        "type": "subscription_update_confirm",
        "subscription_update_confirm": {"subscription": p.subscription.id, "items": [item]},
    }
    if p.discount is not None:
        if p.discount.promotion_code:
            flow["subscription_update_confirm"]["discounts"] = [{"promotion_code": p.discount.promotion_code}]
        elif p.discount.coupon:
            flow["subscription_update_confirm"]["discounts"] = [{"coupon": p.discount.coupon}]
    return _flow(p, flow)


# [end]


def plan_picker(p: Press) -> PortalSessionParams:
    """ "Browse plans": the portal's own plan picker, for the products its configuration lists."""
    return _flow(p, {"type": "subscription_update", "subscription_update": {"subscription": p.subscription.id}})


# [tutorial: cancel]
def cancel(p: Press) -> PortalSessionParams:
    """Cancel: the portal asks for a reason and cancels as its configuration says
    (at period end or now). With a retention coupon, it first offers a discount
    to stay."""
    flow: FlowData = {"type": "subscription_cancel", "subscription_cancel": {"subscription": p.subscription.id}}
    if p.retention_coupon:
        flow["subscription_cancel"]["retention"] = {
            "type": "coupon_offer",
            "coupon_offer": {"coupon": p.retention_coupon},
        }
    return _flow(p, flow)


# [end]


def pause(p: Press) -> PortalSessionParams:
    """Pause: no invoices until resumed (subscriptions in flexible billing mode only)."""
    return _flow(p, {"type": "subscription_pause", "subscription_pause": {"subscription": p.subscription.id}})


def payment_method_update(p: Press) -> PortalSessionParams:
    """Add a card; it becomes the default for the customer's invoices."""
    return _flow(p, {"type": "payment_method_update"})


def customer_update(p: Press) -> PortalSessionParams:
    """Edit billing details: name, email, address."""
    return _flow(p, {"type": "customer_update"})


def resume(p: Press) -> SubscriptionResumeParams:
    """Resume a paused subscription where its billing period left off (the portal
    has no resume step, so this is a direct API call)."""
    return {"billing_cycle_anchor": {"type": "unchanged"}, "expand": expanded()}


def keep_plan(p: Press) -> Release:
    """Keep the current plan: release the schedule that holds the switch for the period's end.
    Releasing stops its phases and leaves the subscription as it is
    (https://docs.stripe.com/api/subscription_schedules/release); a cancellation the
    schedule would have set is not kept (`preserve_cancel_date` stays false)."""
    assert p.subscription.schedule_id is not None, "eligibility lets Keep through only with a schedule"
    return Release(schedule=p.subscription.schedule_id, params={})


def checkout_subscription(p: Press) -> CheckoutSessionParams:
    """First subscription: Stripe Checkout collects the card and creates it.

    Flexible billing mode is what the portal's pause flow and accurate
    prorations need; `{CHECKOUT_SESSION_ID}` is filled in by Stripe, so the
    return route can look the session up.
    """
    assert p.price_id is not None and p.quantity is not None, "Subscribe names a price and its quantity"
    params: CheckoutSessionParams = {
        "mode": "subscription",
        "customer": p.customer,
        "client_reference_id": str(p.account_id),
        "line_items": [{"price": p.price_id, "quantity": p.quantity}],
        "subscription_data": {"billing_mode": {"type": "flexible"}},
        "success_url": p.return_url + "?checkout_session={CHECKOUT_SESSION_ID}",
        "cancel_url": p.cancel_url,
    }
    if p.discount is not None and p.discount.promotion_code:
        params["discounts"] = [{"promotion_code": p.discount.promotion_code}]
    return params
