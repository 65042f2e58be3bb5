"""What finishing a hosted page does to the stand-in's state.

Real Stripe changes subscriptions, customers and payment methods when a
customer completes Checkout or a portal flow; the app only sees the result
(through the API, and on return to its own pages). These functions make the
same changes, so the app's "show the new state" code is exercised offline.
They assume the caller holds the state lock and saves afterwards.
"""

from __future__ import annotations

import copy

from standin import objects
from standin.state import State, StripeObject

# The test card whose charges fail once attached (Stripe's 4000 0000 0000 0341).
DECLINING_LAST4 = "0341"


class CardDeclined(Exception):
    """The customer's default card was declined; nothing was changed."""


def complete_checkout(state: State, session: StripeObject, card_number: str) -> StripeObject:
    """Pay a subscription-mode Checkout session: customer, card, subscription, paid invoice."""
    customer = state.get(session["customer"] or "", "customer")
    if customer is None:
        # Without `customer`, Checkout creates one from what the buyer typed.
        customer = state.add(objects.customer({}))
        customer["email"] = session["customer_email"]
    card = state.add(objects.card_payment_method(card_number, customer["id"]))
    customer["invoice_settings"]["default_payment_method"] = card["id"]

    data = session["_subscription_data"]
    items = [(item["price"], item["quantity"]) for item in session["line_items"]["data"]]
    subscription = state.add(
        objects.subscription(
            customer["id"],
            items,
            billing_mode=data.get("billing_mode", {}).get("type", "classic"),
            default_payment_method=card["id"],
            metadata=dict(data.get("metadata", {})),
        )
    )
    if data.get("description"):
        subscription["description"] = data["description"]
    for discount in session["discounts"]:
        _apply_discount(state, subscription, discount["coupon"], discount["promotion_code"], session["id"])
    invoice = _paid_invoice(state, subscription, "subscription_create")

    session.update(
        customer=customer["id"],
        status="complete",
        payment_status="paid",
        subscription=subscription["id"],
        invoice=invoice["id"],
        customer_details={
            "address": copy.deepcopy(customer["address"]),
            "business_name": None,
            "email": customer["email"],
            "individual_name": None,
            "name": customer["name"],
            "phone": customer["phone"],
            "tax_exempt": customer["tax_exempt"],
            "tax_ids": [],
        },
    )
    return subscription


def change_plan(
    state: State,
    subscription: StripeObject,
    item_id: str,
    price: StripeObject | None,
    quantity: int | None,
    discounts: list[StripeObject] | None = None,
) -> StripeObject:
    """Switch the item's price and/or quantity and charge for it (raises CardDeclined)."""
    _charge_or_decline(state, subscription)
    item = next(i for i in subscription["items"]["data"] if i["id"] == item_id)
    if price is not None:
        item["price"] = copy.deepcopy(price)
        item["plan"] = objects.plan_for(price)
    if quantity is not None:
        item["quantity"] = quantity
    for discount in discounts or []:
        _apply_discount(state, subscription, discount["coupon"], discount["promotion_code"])
    _paid_invoice(state, subscription, "subscription_update")
    return subscription


def cancel(subscription: StripeObject, mode: str) -> StripeObject:
    """Cancel now, or at the end of the period the way the portal does for each billing mode."""
    at = objects.now()
    if mode == "immediately":
        subscription.update(status="canceled", canceled_at=at, ended_at=at)
    else:
        period_end = max(item["current_period_end"] for item in subscription["items"]["data"])
        # In flexible billing mode the portal schedules `cancel_at` and leaves
        # `cancel_at_period_end` false; in classic mode it sets the flag (and
        # Stripe reports the same moment as `cancel_at`). Apps must read both.
        flexible = subscription["billing_mode"]["type"] == "flexible"
        subscription.update(cancel_at=period_end, cancel_at_period_end=not flexible, canceled_at=at)
    subscription["cancellation_details"] = {"comment": None, "feedback": None, "reason": "cancellation_requested"}
    return subscription


def accept_retention_offer(state: State, subscription: StripeObject, coupon_id: str) -> StripeObject:
    """The customer took the coupon offered instead of canceling: apply it, keep the subscription."""
    _apply_discount(state, subscription, coupon_id, None)
    return subscription


def renew(subscription: StripeObject) -> StripeObject:
    """Undo a scheduled cancellation (the portal's "Renew plan")."""
    subscription.update(cancel_at=None, cancel_at_period_end=False, canceled_at=None)
    subscription["cancellation_details"] = {"comment": None, "feedback": None, "reason": None}
    return subscription


# Only these can be paused; a paused subscription comes back to one of them.
PAUSABLE_STATUSES = frozenset({"active", "trialing"})


def pause_refusal(subscription: StripeObject) -> str | None:
    """Why Stripe would refuse to pause this subscription, or None if it may be paused.

    `POST /v1/subscriptions/{id}/pause` (API 2026-09-30 and later) and the
    portal's pause flow share these rules, so both refuse with the same words.
    """
    sub_id, status = subscription["id"], subscription["status"]
    if status == "paused":
        return f"The subscription {sub_id} is already paused."
    if status not in PAUSABLE_STATUSES:
        return (
            f"The subscription {sub_id} cannot be paused because its status is {status}; "
            "only active or trialing subscriptions can be paused."
        )
    if subscription["billing_mode"]["type"] != "flexible":
        return (
            f"The subscription {sub_id} cannot be paused: pausing requires the subscription to use "
            "flexible billing mode (billing_mode[type]=flexible)."
        )
    return None


def resume_refusal(subscription: StripeObject) -> str | None:
    """Why Stripe would refuse to resume this subscription, or None if it is paused."""
    if subscription["status"] != "paused":
        return (
            f"The subscription {subscription['id']} cannot be resumed because it is not paused "
            f"(its status is {subscription['status']})."
        )
    return None


def update_refusal(subscription: StripeObject) -> str | None:
    """Stripe refuses to change the items of a paused subscription; it must be resumed first."""
    if subscription["status"] == "paused":
        return f"The subscription {subscription['id']} is paused and cannot be updated. Resume it first."
    return None


def pause(subscription: StripeObject) -> StripeObject:
    """Pause the subscription itself: status `paused`, no invoices until it is resumed.

    This is the pause of API 2026-09-30 and later, which the portal's pause
    flow also uses; it is not `pause_collection` (which keeps the status and
    only stops collecting payment), so that field is left alone. The caller
    checks `pause_refusal` first.
    """
    subscription["status"] = "paused"
    # Shape of the SDK's Subscription.StatusDetails: everything is under `paused`.
    subscription["status_details"] = {
        "paused": {
            "subscription": {"type": "pause_requested"},
            "transitioned_at": objects.now(),
            "type": "subscription",
        }
    }
    return subscription


def resume(state: State, subscription: StripeObject, billing_cycle_anchor: str = "unchanged") -> StripeObject:
    """Resume a paused subscription (the caller checks `resume_refusal` first).

    It goes back to `trialing` if its trial has not ended, else to `active`.
    With `billing_cycle_anchor` `unchanged` the items keep their periods (the
    stand-in's clock does not move, so the period around "now" is the one
    they have). With `now` a new period starts on every item, and outside a
    trial it is invoiced at once; if that charge is declined the subscription
    is `past_due` with the invoice left open, as Stripe's default
    `payment_behavior=resume_on_payment_attempt` leaves it.
    """
    at = objects.now()
    trialing = subscription["trial_end"] is not None and subscription["trial_end"] > at
    subscription.update(status="trialing" if trialing else "active", status_details=None)
    if billing_cycle_anchor != "now":
        return subscription
    subscription["billing_cycle_anchor"] = at
    for item in subscription["items"]["data"]:
        interval = item["price"]["recurring"] or {"interval": "month", "interval_count": 1}
        item["current_period_start"] = at
        item["current_period_end"] = objects.add_interval(at, interval["interval"], interval["interval_count"])
    if not trialing and not bill(state, subscription, "subscription_update"):
        subscription["status"] = "past_due"
    return subscription


def bill(state: State, subscription: StripeObject, billing_reason: str) -> bool:
    """Invoice the subscription's items and charge its default card.

    Paid: a paid invoice, True. Declined: the invoice is left open after one
    attempt and False is returned; the caller decides the status (`past_due`
    for a renewal, `incomplete` for a first payment), as Stripe does.
    """
    try:
        _charge_or_decline(state, subscription)
    except CardDeclined:
        invoice = _paid_invoice(state, subscription, billing_reason)
        invoice.update(status="open", amount_paid=0, amount_remaining=invoice["amount_due"], attempted=True)
        invoice["status_transitions"]["paid_at"] = None
        return False
    _paid_invoice(state, subscription, billing_reason)
    return True


def end_now(subscription: StripeObject, at: int) -> StripeObject:
    """Cancel at once (DELETE /v1/subscriptions/{id}, or a deleted customer)."""
    subscription.update(status="canceled", canceled_at=subscription["canceled_at"] or at, ended_at=at)
    return subscription


def let_time_pass(state: State, subscription: StripeObject, until: int) -> None:
    """Play out a subscription's billing up to `until` (a test clock advancing):
    each period end in turn ends a scheduled cancellation, or starts the next
    period and charges for it (a trial's end too). A declined charge leaves it
    `past_due` (the stand-in does not model retries); a paused one waits."""
    while subscription["status"] in ("active", "trialing"):
        items = subscription["items"]["data"]
        period_end = min(item["current_period_end"] for item in items)
        cancel_at = subscription["cancel_at"] or (period_end if subscription["cancel_at_period_end"] else None)
        boundary = min(at for at in (period_end, cancel_at) if at is not None)
        if boundary > until:
            return
        if cancel_at is not None and cancel_at <= boundary:
            end_now(subscription, boundary)
            return
        for item in items:
            interval = item["price"]["recurring"] or {"interval": "month", "interval_count": 1}
            item["current_period_start"] = boundary
            item["current_period_end"] = objects.add_interval(boundary, interval["interval"], interval["interval_count"])
        paid = bill(state, subscription, "subscription_cycle")
        subscription["status"] = "active" if paid else "past_due"


def add_card(state: State, customer: StripeObject, card_number: str) -> StripeObject:
    """Attach a test card and make it the default for invoices and every live subscription."""
    card = state.add(objects.card_payment_method(card_number, customer["id"]))
    customer["invoice_settings"]["default_payment_method"] = card["id"]
    for subscription in state.all("subscription"):
        if subscription["customer"] == customer["id"] and subscription["status"] != "canceled":
            subscription["default_payment_method"] = card["id"]
    return card


def update_customer(customer: StripeObject, name: str, email: str, address: dict[str, str]) -> StripeObject:
    customer["name"] = name or None
    customer["email"] = email or None
    customer["address"].update({key: (value or None) for key, value in address.items()})
    return customer


def _charge_or_decline(state: State, subscription: StripeObject) -> None:
    customer = state.objects[subscription["customer"]]
    pm_id = subscription["default_payment_method"] or customer["invoice_settings"]["default_payment_method"]
    card = state.get(pm_id or "", "payment_method")
    if card is None or card["card"]["last4"] == DECLINING_LAST4:
        raise CardDeclined("Your card was declined.")


def _paid_invoice(state: State, subscription: StripeObject, billing_reason: str) -> StripeObject:
    """Store a paid invoice for the subscription with every discount in force, make it the latest."""
    customer = state.objects[subscription["customer"]]
    at = objects.now()
    discounts = [state.objects[discount_id] for discount_id in subscription["discounts"]]
    in_force = [
        (discount, state.objects[discount["source"]["coupon"]])
        for discount in discounts
        if discount["end"] is None or discount["end"] > at
    ]
    invoice = state.add(objects.paid_invoice(customer, subscription, billing_reason, in_force))
    subscription["latest_invoice"] = invoice["id"]
    return invoice


def _apply_discount(
    state: State,
    subscription: StripeObject,
    coupon_id: str | None,
    promotion_code_id: str | None,
    checkout_session: str | None = None,
) -> StripeObject:
    """Attach a discount (from a coupon or a promotion code) and return its coupon."""
    if promotion_code_id is not None:
        code = state.objects[promotion_code_id]
        code["times_redeemed"] += 1
        coupon_id = code["promotion"]["coupon"]
    assert coupon_id is not None
    coupon = state.objects[coupon_id]
    coupon["times_redeemed"] += 1
    discount = state.add(
        objects.discount(coupon, promotion_code_id, subscription["customer"], subscription["id"], checkout_session)
    )
    subscription["discounts"].append(discount["id"])
    return coupon
