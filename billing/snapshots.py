"""What the site keeps of Stripe's objects, as plain values, and how they are
read from the SDK's objects (which `billing.stripe_api` fetches). The mirror
(`billing.models`) stores these values; nothing else reads Stripe's shapes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from billing.eligibility import PortalFeatures

if TYPE_CHECKING:  # types only: billing.stripe_api is the one module that calls Stripe
    import stripe


@dataclass(frozen=True)
class SubscriptionSnapshot:
    """What the local mirror keeps of a Stripe subscription (see models.Subscription)."""

    id: str
    customer: str
    status: str
    item_id: str
    item_count: int
    price_id: str
    lookup_key: str | None
    interval: str | None
    amount: int | None
    currency: str | None
    quantity: int
    current_period_end: datetime | None
    cancel_at: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    ended_at: datetime | None
    billing_mode: str
    # The coupon of the discount in force, if any (the catalog names it).
    discount_coupon: str | None
    # The latest invoice while it is unpaid: what is due, and Stripe's page to pay it.
    open_invoice_amount: int | None
    open_invoice_url: str | None
    # Why it was canceled: Stripe's `cancellation_details`. `reason` says who ended it
    # (`cancellation_requested`: the customer or the merchant; `payment_failed`, ...);
    # `feedback` is the customer's answer in the portal, one of Stripe's enum values,
    # and `comment` their free text (https://docs.stripe.com/api/subscriptions/object#subscription_object-cancellation_details).
    cancellation_reason: str | None
    cancellation_feedback: str | None
    cancellation_comment: str | None
    # When the discount in force was applied (the discount's `start`): for the retention
    # coupon, when the customer took it instead of canceling.
    discount_started_at: datetime | None
    # A change waiting in a subscription schedule (a downgrade kept for the period's end):
    # the schedule, and the price, quantity and start of its next phase.
    schedule_id: str | None = None
    scheduled_price_id: str | None = None
    scheduled_lookup_key: str | None = None
    scheduled_quantity: int | None = None
    scheduled_at: datetime | None = None


# What `snapshot` reads beyond the subscription itself, so every call that returns
# one expands these: `expanded()` for the subscription, `expanded("data.")` in a
# list, `expanded("subscription.")` from a Checkout Session.
EXPANDED = ("discounts", "latest_invoice", "schedule")


def expanded(prefix: str = "") -> list[str]:
    return [prefix + field for field in EXPANDED]


@dataclass(frozen=True)
class CustomerSnapshot:
    """What the local mirror keeps of a Stripe customer (see models.BillingProfile)."""

    name: str | None
    email: str | None
    address: dict[str, str | None] | None
    card_brand: str | None
    card_last4: str | None
    card_exp_month: int | None
    card_exp_year: int | None


@dataclass(frozen=True)
class EventFacts:
    """What the site needs of a verified event: which customer it is about, and when
    Stripe made it."""

    id: str
    type: str
    customer: str | None
    created: int | None = None


def customer_snapshot(customer: stripe.Customer) -> CustomerSnapshot:
    """Needs `invoice_settings.default_payment_method` expanded."""
    pm = customer.invoice_settings.default_payment_method if customer.invoice_settings else None
    card = None if pm is None or isinstance(pm, str) else pm.card
    address = customer.address.to_dict() if customer.address else None
    return CustomerSnapshot(
        name=customer.name,
        email=customer.email,
        address=address if address and any(address.values()) else None,
        card_brand=card.brand if card else None,
        card_last4=card.last4 if card else None,
        card_exp_month=card.exp_month if card else None,
        card_exp_year=card.exp_year if card else None,
    )


def _time(ts: int | None) -> datetime | None:
    """Stripe's Unix timestamps as naive UTC datetimes, as the database stores them."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


def snapshot(sub: stripe.Subscription, lookup_keys: Mapping[str, str] | None = None) -> SubscriptionSnapshot:
    """Read the fields the pages show. In this API version the billing period
    lives on the subscription *item*, not on the subscription. `lookup_keys` names the
    catalog's prices by id: a schedule's phases name their prices by id only."""
    item = sub.items.data[0]
    price = item.price
    customer = sub.customer if isinstance(sub.customer, str) else sub.customer.id
    return SubscriptionSnapshot(
        id=sub.id,
        customer=customer,
        status=sub.status,
        item_id=item.id,
        item_count=len(sub.items.data),
        price_id=price.id,
        lookup_key=price.lookup_key,
        interval=price.recurring.interval if price.recurring else None,
        amount=price.unit_amount,
        currency=price.currency,
        quantity=item.quantity or 1,
        current_period_end=_time(item.current_period_end),
        cancel_at=_time(sub.cancel_at),
        cancel_at_period_end=sub.cancel_at_period_end,
        canceled_at=_time(sub.canceled_at),
        ended_at=_time(sub.ended_at),
        billing_mode=sub.billing_mode.type if sub.billing_mode else "classic",
        **_discount(sub),
        **_open_invoice(sub),
        **_cancellation_details(sub),
        **_scheduled_change(sub, lookup_keys or {}),
    )


def _scheduled_change(sub: stripe.Subscription, lookup_keys: Mapping[str, str]) -> dict[str, Any]:
    """The phase of the subscription's schedule that has not started yet (needs `schedule`
    expanded). The portal keeps a downgrade for the period's end this way: phase 1 is the
    plan until then, phase 2 the new one
    (https://docs.stripe.com/customer-management/configure-portal#downgrades,
    https://docs.stripe.com/api/subscription_schedules/object)."""
    schedule = sub.schedule
    if schedule is None or isinstance(schedule, str):
        return {"schedule_id": schedule}
    now = schedule.current_phase.start_date if schedule.current_phase else None
    coming = next((p for p in schedule.phases if now is not None and p.start_date > now), None)
    if schedule.status != "active" or coming is None or not coming.items:
        return {"schedule_id": schedule.id}
    price = coming.items[0].price
    price_id = price if isinstance(price, str) else price.id
    return {
        "schedule_id": schedule.id,
        "scheduled_price_id": price_id,
        "scheduled_lookup_key": lookup_keys.get(price_id),
        "scheduled_quantity": coming.items[0].quantity or 1,
        "scheduled_at": _time(coming.start_date),
    }


def _open_invoice(sub: stripe.Subscription) -> dict[str, Any]:
    """The latest invoice's amount due and `hosted_invoice_url` while it is open (needs
    `latest_invoice` expanded). A past-due subscription stays so until it is paid
    (https://docs.stripe.com/billing/subscriptions/overview#subscription-statuses)."""
    invoice = sub.latest_invoice
    if invoice is None or isinstance(invoice, str) or invoice.status != "open":
        return {"open_invoice_amount": None, "open_invoice_url": None}
    return {"open_invoice_amount": invoice.amount_remaining, "open_invoice_url": invoice.hosted_invoice_url}


def _discount(sub: stripe.Subscription) -> dict[str, Any]:
    """The coupon of the first discount in force and when it began (needs `discounts` expanded)."""
    for discount in sub.discounts or []:
        if not isinstance(discount, str) and discount.source and discount.source.coupon:
            coupon = discount.source.coupon
            return {
                "discount_coupon": coupon if isinstance(coupon, str) else coupon.id,
                "discount_started_at": _time(discount.start),
            }
    return {"discount_coupon": None, "discount_started_at": None}


def _cancellation_details(sub: stripe.Subscription) -> dict[str, Any]:
    details = sub.cancellation_details
    return {
        "cancellation_reason": details.reason if details else None,
        "cancellation_feedback": details.feedback if details else None,
        "cancellation_comment": details.comment if details else None,
    }


def event_facts(event: stripe.Event) -> EventFacts:
    """Which customer an event is about, whatever kind of object it carries."""
    return EventFacts(id=event.id, type=event.type, customer=_event_customer(event), created=event.created)


def _event_customer(event: stripe.Event) -> str | None:
    data = getattr(event, "data", None)
    obj = getattr(data, "object", None)
    if getattr(obj, "object", None) == "customer":
        return str(getattr(obj, "id", "")) or None
    customer = getattr(obj, "customer", None)
    if customer is None:
        # payment_method.detached: the card no longer names its customer.
        customer = getattr(getattr(data, "previous_attributes", None), "customer", None)
    if isinstance(customer, str):
        return customer
    return str(customer.id) if customer is not None and hasattr(customer, "id") else None


@dataclass(frozen=True)
class PortalSnapshot:
    """The portal configuration in use: its id, how it was found (see
    StripeAPI.configuration_in_use) and what it allows (see models.PortalConfiguration)."""

    id: str
    found_by: str
    features: PortalFeatures


def portal_features_of(config: stripe.billing_portal.Configuration) -> PortalFeatures:
    """The features the rules read, from https://docs.stripe.com/api/customer_portal/configurations/object."""
    f = config.features
    update_products = f.subscription_update.products or []
    return PortalFeatures(
        subscription_update=f.subscription_update.enabled,
        subscription_cancel=f.subscription_cancel.enabled,
        cancel_mode=f.subscription_cancel.mode,
        proration_behavior=f.subscription_update.proration_behavior,
        subscription_pause=bool(f.subscription_pause and f.subscription_pause.enabled),
        payment_method_update=f.payment_method_update.enabled,
        customer_update=f.customer_update.enabled,
        update_products={p.product: frozenset(p.prices) for p in update_products},
        adjustable_quantity=frozenset(
            p.product for p in update_products if p.adjustable_quantity and p.adjustable_quantity.enabled
        ),
        schedule_conditions=frozenset(c.type for c in f.subscription_update.schedule_at_period_end.conditions or []),
    )
