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
    coupon = None
    for discount in session["discounts"]:
        coupon = _apply_discount(state, subscription, discount["coupon"], discount["promotion_code"], session["id"])
    invoice = state.add(objects.paid_invoice(customer, subscription, "subscription_create", coupon))
    subscription["latest_invoice"] = invoice["id"]

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
    coupon = None
    for discount in discounts or []:
        coupon = _apply_discount(state, subscription, discount["coupon"], discount["promotion_code"])
    customer = state.objects[subscription["customer"]]
    invoice = state.add(objects.paid_invoice(customer, subscription, "subscription_update", coupon))
    subscription["latest_invoice"] = invoice["id"]
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


def pause(subscription: StripeObject) -> StripeObject:
    """Pause payment collection indefinitely (invoices voided), as the portal's pause does.

    The status stays as it was (`active`): pausing collection does not change
    it; only a trial ending without a payment method makes Stripe report `paused`.
    """
    subscription["pause_collection"] = {"behavior": "void", "resumes_at": None}
    return subscription


def resume(subscription: StripeObject) -> StripeObject:
    subscription["pause_collection"] = None
    return subscription


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
