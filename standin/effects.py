"""What finishing a hosted page does to the stand-in's state.

Real Stripe changes subscriptions, customers and payment methods when a
customer completes Checkout or a portal flow; the app only sees the result
(through the API, and on return to its own pages). These functions make the
same changes, so the app's "show the new state" code is exercised offline.
They assume the caller holds the state lock and saves afterwards.
"""

from __future__ import annotations

import copy
from contextlib import AbstractContextManager

from standin import cards, objects, proration, refusals, schedules
from standin.state import State, StripeObject

# Statuses after which a subscription can no longer change.
ENDED_STATUSES = frozenset({"canceled", "incomplete_expired"})

# An `incomplete` subscription whose first invoice stays unpaid this long expires, as on Stripe.
INCOMPLETE_EXPIRES_AFTER = 23 * 3600


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
            test_clock=customer["test_clock"],
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
    proration_behavior: str = "create_prorations",
) -> StripeObject:
    """Switch the item's price and/or quantity and bill for it as Stripe does (raises CardDeclined).

    Stripe's rules for changing prices
    (https://docs.stripe.com/billing/subscriptions/upgrade-downgrade and
    https://docs.stripe.com/billing/subscriptions/billing-cycle#changing):
    - a price with a different billing interval resets the billing cycle
      anchor to the time of the change and invoices at once: a credit for the
      unused time on the old price and the new price's first full period;
    - within the same interval the period is kept, and the portal
      configuration's `features.subscription_update.proration_behavior`
      decides (https://docs.stripe.com/api/customer_portal/configurations/object#portal_configuration_object-features-subscription_update-proration_behavior):
      `create_prorations` leaves proration items for the next invoice,
      `always_invoice` invoices them now, `none` bills nothing until renewal.
    A charge that is declined changes nothing (the portal shows the error).
    """
    item = next(i for i in subscription["items"]["data"] if i["id"] == item_id)
    new_price = price if price is not None else item["price"]
    new_quantity = quantity if quantity is not None else item["quantity"]
    at = objects.now()
    interval_change, prorations = proration.change_lines(
        subscription, item, new_price, new_quantity, proration_behavior, at
    )
    invoice_now = interval_change or proration_behavior == "always_invoice"
    if invoice_now:
        _charge_or_decline(state, subscription)
    if price is not None:
        item["price"] = copy.deepcopy(price)
        item["plan"] = objects.plan_for(price)
    item["quantity"] = new_quantity
    if interval_change:
        interval, count = _interval(new_price)
        item["current_period_start"] = at
        item["current_period_end"] = objects.add_interval(at, interval, count)
        subscription["billing_cycle_anchor"] = at
    if discounts:
        # The flow's discounts replace the subscription's, as `discounts` does on
        # POST /v1/subscriptions/{id} ("The coupons to redeem into discounts for the
        # subscription": https://docs.stripe.com/api/subscriptions/update#update_subscription-discounts).
        subscription["discounts"] = []
    for discount in discounts or []:
        _apply_discount(state, subscription, discount["coupon"], discount["promotion_code"])
    if interval_change:
        _paid_invoice(state, subscription, "subscription_update", prorations=prorations)
    elif proration_behavior == "always_invoice":
        _paid_invoice(state, subscription, "subscription_update", prorations=prorations, bill_items=False)
    else:
        # Pending proration items: the subscription's next invoice picks them up.
        subscription.setdefault("_pending_prorations", []).extend(prorations)
    return subscription


def _interval(price: StripeObject) -> tuple[str, int]:
    recurring = price["recurring"] or {"interval": "month", "interval_count": 1}
    return recurring["interval"], int(recurring.get("interval_count") or 1)


def cancel(
    subscription: StripeObject, mode: str, feedback: str | None = None, comment: str | None = None
) -> StripeObject:
    """Cancel now, or at the end of the period the way the portal does for each billing mode.

    `feedback` and `comment` are the customer's answers to the portal's cancellation
    reason step; they go to `cancellation_details` beside `reason: cancellation_requested`
    (https://docs.stripe.com/api/subscriptions/object#subscription_object-cancellation_details).
    """
    if mode == "immediately":
        end_now(subscription)
    else:
        # In flexible billing mode the portal schedules `cancel_at` and leaves
        # `cancel_at_period_end` false; in classic mode it sets the flag (and
        # Stripe reports the same moment as `cancel_at`). Apps must read both.
        flexible = subscription["billing_mode"]["type"] == "flexible"
        schedule_cancel(subscription, period_end(subscription), at_period_end=not flexible)
    subscription["cancellation_details"].update(feedback=feedback, comment=comment)
    return subscription


def end_now(subscription: StripeObject) -> StripeObject:
    """Cancel at once (the portal, `DELETE /v1/subscriptions/{id}`, a deleted customer)."""
    at = objects.now()
    subscription.update(status="canceled", canceled_at=at, ended_at=at)
    subscription["cancellation_details"] = {"comment": None, "feedback": None, "reason": "cancellation_requested"}
    return subscription


def schedule_cancel(subscription: StripeObject, cancel_at: int, at_period_end: bool) -> StripeObject:
    """Schedule the end of the subscription at `cancel_at`; `canceled_at` records when it was asked for.

    `at_period_end` is the `cancel_at_period_end` flag, which Stripe sets only
    when asked for by that name; `cancel_at` is set either way.
    """
    subscription.update(cancel_at=cancel_at, cancel_at_period_end=at_period_end, canceled_at=objects.now())
    subscription["cancellation_details"] = {"comment": None, "feedback": None, "reason": "cancellation_requested"}
    return subscription


def period_end(subscription: StripeObject) -> int:
    """When the current period ends (the items carry the periods in current API versions)."""
    return max(int(item["current_period_end"]) for item in subscription["items"]["data"])


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
    return refusals.schedule_pause_refusal(subscription)


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


def resume(
    state: State,
    subscription: StripeObject,
    billing_cycle_anchor: str = "now",
    proration_behavior: str = "create_prorations",
) -> StripeObject:
    """Resume a paused subscription (the caller checks `resume_refusal` first), as
    https://docs.stripe.com/api/subscriptions/resume describes.

    It goes back to `trialing` if its trial has not ended, else to `active`.
    - `now` (Stripe's default) starts a new period on every item today and,
      outside a trial, invoices it at once; if that charge is declined the
      subscription is `past_due` with the invoice left open, as the default
      `payment_behavior=resume_on_payment_attempt` leaves it.
    - `unchanged` "advances the subscription to the period that surrounds the
      current time" without moving the anchor. A pause never advances periods
      (https://docs.stripe.com/billing/subscriptions/pausing), so a period
      reached this way was never paid: its remaining time is prorated per
      `proration_behavior` (pending items for the next invoice, an invoice now,
      or nothing). Resuming within the period paid before the pause bills nothing.
    """
    at = objects.now()
    trialing = subscription["trial_end"] is not None and subscription["trial_end"] > at
    subscription.update(status="trialing" if trialing else "active", status_details=None)
    if billing_cycle_anchor == "unchanged":
        _catch_up(state, subscription, at, "none" if trialing else proration_behavior)
        return subscription
    subscription["billing_cycle_anchor"] = at
    for item in subscription["items"]["data"]:
        interval, count = _interval(item["price"])
        item["current_period_start"] = at
        item["current_period_end"] = objects.add_interval(at, interval, count)
    if not trialing and not bill(state, subscription, "subscription_update"):
        subscription["status"] = "past_due"
    return subscription


def _catch_up(state: State, subscription: StripeObject, at: int, proration_behavior: str) -> None:
    """Move each item on to the period around `at`, prorating a period it enters unpaid."""
    prorations = []
    for item in subscription["items"]["data"]:
        interval, count = _interval(item["price"])
        start, end = int(item["current_period_start"]), int(item["current_period_end"])
        if end > at:
            continue
        while end <= at:
            start, end = end, objects.add_interval(end, interval, count)
        item.update(current_period_start=start, current_period_end=end)
        share = (end - at) / (end - start)
        charge = round((item["price"]["unit_amount"] or 0) * item["quantity"] * share)
        prorations.append(objects.proration_line(subscription, item, item["price"], item["quantity"], charge, at, end))
    if not prorations or proration_behavior == "none":
        return
    if proration_behavior == "always_invoice":
        _paid_invoice(state, subscription, "subscription_update", prorations=prorations, bill_items=False)
    else:
        subscription.setdefault("_pending_prorations", []).extend(prorations)


def start(
    state: State,
    subscription: StripeObject,
    discounts: list[tuple[str | None, str | None]],
    trial_end: int | None,
    payment_behavior: str,
) -> StripeObject:
    """Store and begin a subscription made with `POST /v1/subscriptions`.

    `discounts` are (coupon, promotion code) ids, already checked.

    With a trial, the items' first period is the trial and a $0 invoice is
    paid. Otherwise the first period is invoiced at once: paid, it is
    `active`. Under `default_incomplete` the invoice waits for its payment to
    be confirmed (the stand-in has no PaymentIntents to confirm it with), so
    the subscription is `incomplete`; under `allow_incomplete` a declined
    charge (or no payment method) leaves it `incomplete` with the invoice
    open. `error_if_incomplete` is refused before anything is stored (see
    `declines`).
    """
    state.add(subscription)
    for coupon_id, promotion_code_id in discounts:
        _apply_discount(state, subscription, coupon_id, promotion_code_id)
    if trial_end is not None:
        subscription.update(
            status="trialing", trial_start=objects.now(), trial_end=trial_end, billing_cycle_anchor=trial_end
        )
        for item in subscription["items"]["data"]:
            item["current_period_end"] = trial_end
        _paid_invoice(state, subscription, "subscription_create", trial=True)
    elif payment_behavior == "default_incomplete":
        invoice = _paid_invoice(state, subscription, "subscription_create")
        if invoice["amount_due"] > 0:
            _leave_open(invoice, attempted=False)
            subscription["status"] = "incomplete"
    elif not bill(state, subscription, "subscription_create"):
        subscription["status"] = "incomplete"
    return subscription


def bill(state: State, subscription: StripeObject, billing_reason: str) -> bool:
    """Invoice the subscription's items and charge its default card.

    Paid (or nothing to pay): a paid invoice, True. Declined: the invoice is
    left open after one attempt and False is returned; the caller decides the
    status (`past_due` for a renewal, `incomplete` for a first payment), as
    Stripe does.
    """
    invoice = _paid_invoice(state, subscription, billing_reason)
    if invoice["amount_due"] == 0:
        return True
    try:
        _charge_or_decline(state, subscription)
    except CardDeclined:
        _leave_open(invoice, attempted=True)
        return False
    return True


def pay_invoice(state: State, invoice: StripeObject) -> bool:
    """Pay an open invoice with the customer's default card, as the portal's invoice list and the
    hosted invoice page do (https://docs.stripe.com/invoicing/hosted-invoice-page; the API's
    `POST /v1/invoices/{id}/pay`: https://docs.stripe.com/api/invoices/pay).

    Paid: the invoice is `paid`, and a `past_due`/`unpaid` subscription whose latest invoice it
    is becomes `active` again ("paying the most recent invoice" ends past_due:
    https://docs.stripe.com/billing/subscriptions/overview#subscription-statuses). Declined: one
    more failed attempt, the invoice stays `open`, False.
    """
    details = (invoice["parent"] or {}).get("subscription_details") or {}
    subscription = state.get(details.get("subscription") or "", "subscription")
    customer = state.objects[invoice["customer"]]
    if subscription is not None:
        card = default_card(state, subscription)
    else:
        card = state.get(customer["invoice_settings"]["default_payment_method"] or "", "payment_method")
    if card is None or declines(card):
        invoice.update(attempted=True, attempt_count=invoice["attempt_count"] + 1)
        return False
    paid_at = objects.now()
    invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0, attempted=True)
    invoice["attempt_count"] += 1
    invoice["status_transitions"]["paid_at"] = paid_at
    if (
        subscription is not None
        and subscription["latest_invoice"] == invoice["id"]
        and subscription["status"] in ("past_due", "unpaid")
    ):
        subscription["status"] = "active"
    return True


def default_card(state: State, subscription: StripeObject) -> StripeObject | None:
    """The card the subscription's invoices are charged to: its own default, else its customer's.

    None when there is none, or when it is no longer attached to the customer.
    """
    customer = state.objects[subscription["customer"]]
    pm_id = subscription["default_payment_method"] or customer["invoice_settings"]["default_payment_method"]
    card = state.get(pm_id or "", "payment_method")
    return card if card is not None and card["customer"] == customer["id"] else None


def declines(card: StripeObject) -> bool:
    """Whether charging this card fails (a declining test card, see standin/cards.py)."""
    return decline_message(card) is not None


def decline_message(card: StripeObject) -> str | None:
    """The message Stripe's pages show when this card's charge is declined, None if it succeeds."""
    test_card = cards.for_last4(card["card"]["last4"])
    return test_card.decline_message if test_card is not None else None


def customer_time(state: State, customer_id: str | None) -> AbstractContextManager[None]:
    """Inside it, `objects.now()` is the customer's time: its test clock's frozen time, if on one."""
    customer = state.get(customer_id or "", "customer") or {}
    clock = state.get(customer.get("test_clock") or "", "test_helpers.test_clock")
    return objects.frozen_at(clock["frozen_time"] if clock is not None else None)


def advance_clock(state: State, clock: StripeObject, frozen_time: int) -> StripeObject:
    """Move a test clock on to `frozen_time`, playing out its customers' subscriptions meanwhile.

    Every change falls due at its own moment and happens in time order, at
    that moment: an `incomplete` subscription expires after 23 hours; at the
    end of a trial or period, a scheduled cancellation (`cancel_at`, or
    `cancel_at_period_end`) ends the subscription, else the next period
    starts and is charged (`active`, or `past_due` with the invoice open if
    the card declines; retries are not modelled). A paused subscription waits.
    """
    customers = {customer["id"] for customer in state.all("customer") if customer.get("test_clock") == clock["id"]}
    subscriptions = [sub for sub in state.all("subscription") if sub["customer"] in customers]
    while True:
        due = [(at, sub) for sub in subscriptions if (at := _next_change(sub)) is not None and at <= frozen_time]
        if not due:
            break
        at, subscription = min(due, key=lambda pair: pair[0])
        with objects.frozen_at(at):
            _change(state, subscription, at)
    clock["frozen_time"] = frozen_time
    return clock


def _next_change(subscription: StripeObject) -> int | None:
    """When time next changes this subscription by itself, if ever."""
    status = subscription["status"]
    if status == "incomplete":
        return int(subscription["created"]) + INCOMPLETE_EXPIRES_AFTER
    if status not in ("trialing", "active", "past_due"):
        return None
    cancel_at = subscription["cancel_at"]
    return period_end(subscription) if cancel_at is None else min(cancel_at, period_end(subscription))


def _change(state: State, subscription: StripeObject, at: int) -> None:
    """What happens to the subscription at `at`, the moment `_next_change` named."""
    if subscription["status"] == "incomplete":
        subscription.update(status="incomplete_expired", ended_at=at)
        invoice = state.get(subscription["latest_invoice"] or "", "invoice")
        if invoice is not None and invoice["status"] == "open":
            invoice["status"] = "void"
            invoice["status_transitions"]["voided_at"] = at
        return
    cancel_at = subscription["cancel_at"]
    if subscription["cancel_at_period_end"] or (cancel_at is not None and cancel_at <= at):
        subscription.update(status="canceled", ended_at=at)
        return
    schedules.next_phase(state, subscription, at)
    for item in subscription["items"]["data"]:
        interval = item["price"]["recurring"] or {"interval": "month", "interval_count": 1}
        item["current_period_start"] = at
        item["current_period_end"] = objects.add_interval(at, interval["interval"], interval["interval_count"])
    # A trial's end is billed like any period's (billing_reason subscription_cycle).
    subscription["status"] = "active" if bill(state, subscription, "subscription_cycle") else "past_due"


def delete_customer(state: State, customer: StripeObject) -> StripeObject:
    """Delete a customer as Stripe does: subscriptions not ended are canceled at once, payment
    methods detached, and the customer is replaced by the stub every retrieve answers from now on."""
    for subscription in state.all("subscription"):
        if subscription["customer"] == customer["id"] and subscription["status"] not in ENDED_STATUSES:
            end_now(subscription)
    for schedule in state.all(schedules.KIND):
        if schedule["customer"] == customer["id"] and schedule["status"] in ("not_started", "active"):
            schedules.cancel(state, schedule)
    for pm in state.all("payment_method"):
        if pm["customer"] == customer["id"]:
            pm["customer"] = None
    return state.add(objects.deleted(customer))


def detach(state: State, pm: StripeObject) -> StripeObject:
    """Detach a payment method; a customer default that was this one is unset, as on Stripe."""
    customer = state.get(pm["customer"] or "", "customer")
    if customer is not None and customer["invoice_settings"]["default_payment_method"] == pm["id"]:
        customer["invoice_settings"]["default_payment_method"] = None
    pm["customer"] = None
    return pm


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
    card = default_card(state, subscription)
    if card is None:
        raise CardDeclined("Your card was declined.")
    message = decline_message(card)
    if message is not None:
        raise CardDeclined(message)


def _paid_invoice(
    state: State,
    subscription: StripeObject,
    billing_reason: str,
    trial: bool = False,
    prorations: list[StripeObject] | None = None,
    bill_items: bool = True,
) -> StripeObject:
    """Store a paid invoice for the subscription with every discount in force, make it the latest.

    Proration items still pending on the subscription are added to it, as
    Stripe pulls pending invoice items into the subscription's next invoice.
    """
    customer = state.objects[subscription["customer"]]
    at = objects.now()
    discounts = [state.objects[discount_id] for discount_id in subscription["discounts"]]
    in_force = [
        (discount, state.objects[discount["source"]["coupon"]])
        for discount in discounts
        if discount["end"] is None or discount["end"] > at
    ]
    lines = subscription.pop("_pending_prorations", []) + list(prorations or [])
    invoice = state.add(
        objects.paid_invoice(customer, subscription, billing_reason, in_force, trial, lines, bill_items)
    )
    subscription["latest_invoice"] = invoice["id"]
    return invoice


def _leave_open(invoice: StripeObject, attempted: bool) -> None:
    """Make a new invoice unpaid: finalized and open, after one failed attempt if `attempted`."""
    invoice.update(
        status="open",
        amount_paid=0,
        amount_remaining=invoice["amount_due"],
        attempted=attempted,
        attempt_count=1 if attempted else 0,
    )
    invoice["status_transitions"]["paid_at"] = None


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
    # A coupon whose max_redemptions is reached reports `valid: false` (https://docs.stripe.com/api/coupons/object).
    coupon["valid"] = coupon["valid"] and not refusals.exhausted(coupon)
    discount = state.add(
        objects.discount(coupon, promotion_code_id, subscription["customer"], subscription["id"], checkout_session)
    )
    subscription["discounts"].append(discount["id"])
    return coupon
