"""Build new Stripe objects from Stripe's own fixtures.

Each builder starts from the blank object in `fixtures.json` (copied from
Stripe's OpenAPI fixtures, so every field Stripe returns is present with the
right type) and fills in what the request or the event decided. Builders do
not store anything and check nothing: `api.py` and `effects.py` do that.
"""

from __future__ import annotations

import calendar
import copy
import json
import secrets
import string
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from standin import cards
from standin.state import StripeObject

_FIXTURES: dict[str, StripeObject] = json.loads(resources.files("standin").joinpath("fixtures.json").read_text())[
    "resources"
]

_ID_ALPHABET = string.ascii_letters + string.digits

# The frozen time of the test clock whose customer is being served (see `frozen_at`).
_frozen_time: ContextVar[int | None] = ContextVar("frozen_time", default=None)


def now() -> int:
    """The current time: real time, or a test clock's frozen time inside `frozen_at`."""
    frozen = _frozen_time.get()
    return int(time.time()) if frozen is None else frozen


@contextmanager
def frozen_at(moment: int | None) -> Iterator[None]:
    """Make `now()` answer `moment` inside the block (None: real time).

    Objects of a customer on a test clock live in the clock's time: they are
    created, billed and canceled at its frozen time, as on Stripe.
    """
    token = _frozen_time.set(moment)
    try:
        yield
    finally:
        _frozen_time.reset(token)


def new_id(prefix: str, length: int = 24) -> str:
    """A random id with Stripe's prefix for the resource (`cus_`, `sub_`, ...)."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def blank(resource: str, id_prefix: str) -> StripeObject:
    """A fresh copy of a fixture with a new id and creation time."""
    obj = copy.deepcopy(_FIXTURES[resource])
    obj["id"] = new_id(id_prefix)
    if "created" in obj:
        obj["created"] = now()
    return obj


def add_interval(start: int, interval: str, count: int = 1) -> int:
    """`start` moved on by `count` days/weeks/months/years, as billing periods are."""
    if interval in ("day", "week"):
        return start + count * (86400 if interval == "day" else 7 * 86400)
    moment = datetime.fromtimestamp(start, tz=UTC)
    months = count * (12 if interval == "year" else 1)
    year, month = divmod(moment.month - 1 + months, 12)
    year += moment.year
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return int(moment.replace(year=year, month=month + 1, day=day).timestamp())


def list_object(data: list[StripeObject], url: str, has_more: bool = False) -> StripeObject:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def deleted(obj: StripeObject) -> StripeObject:
    """What Stripe answers for a deleted object, when deleted and on every later retrieve."""
    return {"id": obj["id"], "object": obj["object"], "deleted": True}


def test_clock(frozen_time: int, name: str | None) -> StripeObject:
    clock = blank("test_helpers.test_clock", "clock_")
    # Stripe deletes test clocks 30 days after they are made.
    clock.update(frozen_time=frozen_time, name=name, deletes_after=clock["created"] + 30 * 86400)
    return clock


def customer(params: dict[str, Any]) -> StripeObject:
    obj = blank("customer", "cus_")
    obj["invoice_prefix"] = new_id("", 8).upper()
    return obj


def price(params: dict[str, Any]) -> StripeObject:
    obj = blank("price", "price_")
    amount = params.get("unit_amount")
    if amount is not None:
        obj["unit_amount"] = amount
        obj["unit_amount_decimal"] = str(amount)
    recurring = params.get("recurring")
    if recurring:
        obj["type"] = "recurring"
        obj["recurring"] = {
            "interval": recurring["interval"],
            "interval_count": recurring.get("interval_count", 1),
            "meter": recurring.get("meter"),
            "usage_type": recurring.get("usage_type", "licensed"),
            "trial_period_days": recurring.get("trial_period_days"),
        }
    return obj


def plan_for(item_price: StripeObject) -> StripeObject:
    """The legacy `plan` Stripe still shows beside `price` on subscription items."""
    plan: StripeObject = copy.deepcopy(_FIXTURES["subscription_item"]["plan"])
    recurring = item_price["recurring"] or {}
    plan.update(
        id=item_price["id"],
        active=item_price["active"],
        amount=item_price["unit_amount"],
        amount_decimal=item_price["unit_amount_decimal"],
        created=item_price["created"],
        currency=item_price["currency"],
        interval=recurring.get("interval"),
        interval_count=recurring.get("interval_count"),
        nickname=item_price["nickname"],
        product=item_price["product"],
    )
    return plan


def subscription_item(subscription_id: str, item_price: StripeObject, quantity: int, period_start: int) -> StripeObject:
    """An item; its billing period lives here, not on the subscription, in current API versions."""
    item = blank("subscription_item", "si_")
    interval = item_price["recurring"] or {"interval": "month", "interval_count": 1}
    item.update(
        subscription=subscription_id,
        price=copy.deepcopy(item_price),
        plan=plan_for(item_price),
        quantity=quantity,
        current_period_start=period_start,
        current_period_end=add_interval(period_start, interval["interval"], interval["interval_count"]),
    )
    return item


def subscription(
    customer_id: str,
    prices: list[tuple[StripeObject, int]],
    billing_mode: str,
    default_payment_method: str | None,
    metadata: dict[str, str],
    test_clock: str | None = None,
) -> StripeObject:
    sub = blank("subscription", "sub_")
    start = sub["created"]
    items = [subscription_item(sub["id"], p, quantity, start) for p, quantity in prices]
    sub.update(
        customer=customer_id,
        currency=prices[0][0]["currency"],
        billing_cycle_anchor=start,
        start_date=start,
        default_payment_method=default_payment_method,
        metadata=metadata,
        status="active",
        test_clock=test_clock,
    )
    sub["items"] = list_object(items, f"/v1/subscription_items?subscription={sub['id']}")
    if billing_mode == "flexible":
        sub["billing_mode"] = {
            "flexible": {"proration_discounts": "included"},
            "type": "flexible",
            "updated_at": start,
        }
    return sub


def discount(
    coupon: StripeObject,
    promotion_code: str | None,
    customer_id: str,
    subscription_id: str | None,
    checkout_session: str | None = None,
) -> StripeObject:
    obj = blank("discount", "di_")
    start = now()
    end = None
    if coupon["duration"] == "repeating" and coupon["duration_in_months"]:
        end = add_interval(start, "month", coupon["duration_in_months"])
    obj.update(
        customer=customer_id,
        subscription=subscription_id,
        checkout_session=checkout_session,
        promotion_code=promotion_code,
        source={"coupon": coupon["id"], "type": "coupon"},
        start=start,
        end=end,
    )
    return obj


def applies(coupon: StripeObject, product: str) -> bool:
    """Whether a coupon discounts this product: every product unless `applies_to` limits it.

    `applies_to` is kept on the stored coupon only when it was set (the API
    returns it only when expanded), as Stripe leaves it out otherwise.
    """
    applies_to = coupon.get("applies_to")
    return applies_to is None or product in (applies_to.get("products") or [])


def discount_amounts(lines: list[tuple[int, str]], coupons: list[StripeObject]) -> list[list[int]]:
    """What each coupon takes off each line: `[[line 0 per coupon], [line 1 per coupon], ...]`.

    `lines` are (amount, product). Coupons apply in order, each only to the
    lines whose product it applies to: `percent_off` as a share of the line
    (rounded to the nearest cent, as Stripe rounds), `amount_off` spread over
    those lines in order. A line never goes below zero.
    """
    left = [amount for amount, _ in lines]
    result = [[0] * len(coupons) for _ in lines]
    for index, coupon in enumerate(coupons):
        eligible = [n for n, (_, product) in enumerate(lines) if applies(coupon, product)]
        budget = int(coupon["amount_off"] or 0)
        for n in eligible:
            if coupon["percent_off"] is not None:
                off = min(round(lines[n][0] * float(coupon["percent_off"]) / 100), left[n])
            else:
                off = min(budget, left[n])
                budget -= off
            left[n] -= off
            result[n][index] = off
    return result


def paid_invoice(
    cust: StripeObject,
    sub: StripeObject,
    billing_reason: str,
    discounts: list[tuple[StripeObject, StripeObject]],
    trial: bool = False,
    prorations: list[StripeObject] | None = None,
    bill_items: bool = True,
) -> StripeObject:
    """A paid invoice for the subscription's current items, as a successful charge leaves.

    `prorations` are proration lines (see `proration_line`) put first on the
    invoice; without `bill_items` they are all it holds (an `always_invoice`
    change within the period). Discounts apply to the item lines only.

    `discounts` are the (discount, coupon) pairs in force on the subscription;
    each line and the invoice show what every discount took off
    (`discount_amounts`, `total_discount_amounts`), as on Stripe. For the
    start of a `trial` every line is free ("Trial period for ..."), so the
    invoice is paid at $0.
    """
    invoice = blank("invoice", "in_")
    items = sub["items"]["data"] if bill_items else []

    def amount_of(item: StripeObject) -> int:
        return 0 if trial else (item["price"]["unit_amount"] or 0) * item["quantity"]

    per_line = discount_amounts(
        [(amount_of(item), item["price"]["product"]) for item in items],
        [coupon for _, coupon in discounts],
    )
    lines = [{**line, "invoice": invoice["id"]} for line in prorations or []]
    for item, line_discounts in zip(items, per_line, strict=True):
        line = copy.deepcopy(_FIXTURES["line_item"])
        amount = amount_of(item)
        product_name = item["price"]["nickname"] or item["price"]["product"]
        line.update(
            id=new_id("il_"),
            invoice=invoice["id"],
            amount=amount,
            subtotal=amount,
            currency=item["price"]["currency"],
            description=f"Trial period for {product_name}" if trial else f"{item['quantity']} × {product_name}",
            quantity=item["quantity"],
            subscription=sub["id"],
            period={"start": item["current_period_start"], "end": item["current_period_end"]},
            discounts=[discount["id"] for (discount, _), off in zip(discounts, line_discounts, strict=True) if off],
            discount_amounts=[
                {"amount": off, "discount": discount["id"]}
                for (discount, _), off in zip(discounts, line_discounts, strict=True)
                if off
            ],
            pricing={
                "price_details": {"price": item["price"]["id"], "product": item["price"]["product"]},
                "type": "price_details",
                "unit_amount_decimal": item["price"]["unit_amount_decimal"],
            },
            parent={
                "invoice_item_details": None,
                "subscription_item_details": {
                    "invoice_item": None,
                    "proration": False,
                    "proration_details": {"credited_items": None},
                    "subscription": sub["id"],
                    "subscription_item": item["id"],
                },
                "type": "subscription_item_details",
            },
        )
        lines.append(line)
    subtotal = sum(line["amount"] for line in lines)
    totals = [sum(column) for column in zip(*per_line, strict=True)] if per_line else []
    total = subtotal - sum(totals)
    # A credit larger than the charge goes to the customer's balance; nothing is due.
    due = max(0, total)
    paid_at = now()
    invoice.update(
        customer=cust["id"],
        customer_email=cust["email"],
        customer_name=cust["name"],
        currency=sub["currency"],
        billing_reason=billing_reason,
        number=f"{cust['invoice_prefix']}-{cust['next_invoice_sequence']:04d}",
        status="paid",
        amount_due=due,
        amount_paid=due,
        amount_remaining=0,
        subtotal=subtotal,
        subtotal_excluding_tax=subtotal,
        total=total,
        total_excluding_tax=total,
        discounts=[discount["id"] for discount, _ in discounts],
        total_discount_amounts=[
            {"amount": amount, "discount": discount["id"]}
            for (discount, _), amount in zip(discounts, totals, strict=False)
        ],
        attempted=True,
        attempt_count=1,
        effective_at=paid_at,
        period_start=paid_at,
        period_end=paid_at,
        default_payment_method=sub["default_payment_method"],
        test_clock=cust["test_clock"],
        status_transitions={
            "finalized_at": paid_at,
            "marked_uncollectible_at": None,
            "paid_at": paid_at,
            "voided_at": None,
        },
        parent={
            "quote_details": None,
            "subscription_details": {"metadata": sub["metadata"], "subscription": sub["id"]},
            "type": "subscription_details",
        },
    )
    invoice["lines"] = list_object(lines, f"/v1/invoices/{invoice['id']}/lines")
    cust["next_invoice_sequence"] += 1
    return invoice


def proration_line(
    sub: StripeObject, item: StripeObject, item_price: StripeObject, quantity: int, amount: int, start: int, end: int
) -> StripeObject:
    """One proration line: a credit (`amount` < 0, "Unused time on ...") or a charge ("Remaining time on ...").

    Shaped like Stripe's: `parent.subscription_item_details.proration` is true
    (https://docs.stripe.com/billing/subscriptions/prorations).
    """
    line = copy.deepcopy(_FIXTURES["line_item"])
    name = item_price["nickname"] or item_price["product"]
    kind = "Unused time on" if amount < 0 else "Remaining time on"
    line.update(
        id=new_id("il_"),
        amount=amount,
        subtotal=amount,
        currency=item_price["currency"],
        description=f"{kind} {quantity} × {name}",
        quantity=quantity,
        subscription=sub["id"],
        period={"start": start, "end": end},
        discounts=[],
        discount_amounts=[],
        pricing={
            "price_details": {"price": item_price["id"], "product": item_price["product"]},
            "type": "price_details",
            "unit_amount_decimal": item_price["unit_amount_decimal"],
        },
        parent={
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": True,
                "proration_details": {"credited_items": None},
                "subscription": sub["id"],
                "subscription_item": item["id"],
            },
            "type": "subscription_item_details",
        },
    )
    return line


# The test cards the hosted pages offer, with what Stripe's test card numbers report.
TEST_CARDS: dict[str, dict[str, Any]] = {
    number: {"brand": card.brand, "last4": card.last4, "funding": card.funding} for number, card in cards.CARDS.items()
}

# Stripe's test PaymentMethod ids: attaching one makes a new card from its test number.
TEST_PAYMENT_METHODS = cards.PAYMENT_METHODS


def card_payment_method(number: str, customer_id: str) -> StripeObject:
    pm = blank("payment_method", "pm_")
    details = TEST_CARDS[number]
    # Valid for three years from now, also in a test clock's time.
    expiry = datetime.fromtimestamp(max(now(), int(time.time())), tz=UTC)
    pm["customer"] = customer_id
    pm["card"].update(
        brand=details["brand"],
        display_brand=details["brand"],
        last4=details["last4"],
        funding=details["funding"],
        exp_month=expiry.month,
        exp_year=expiry.year + 3,
        fingerprint=new_id("", 16),
        networks={"available": [details["brand"]], "preferred": None},
    )
    return pm


def schedule_phase(items: list[tuple[StripeObject, int]], start: int, end: int, currency: str) -> StripeObject:
    """One phase: these (price, quantity) items from `start` to `end` (prices by id, as Stripe shows them)."""
    phase = copy.deepcopy(_FIXTURES["subscription_schedule.phase"])
    phase_items = []
    for item_price, quantity in items:
        entry = copy.deepcopy(_FIXTURES["subscription_schedule.phase_item"])
        entry.update(price=item_price["id"], quantity=quantity)
        phase_items.append(entry)
    phase.update(items=phase_items, start_date=start, end_date=end, currency=currency)
    return phase


def subscription_schedule(sub: StripeObject, phases: list[StripeObject]) -> StripeObject:
    """A schedule made `from_subscription`: it starts at once, managing `sub`, and lets the
    subscription go on by itself after its last phase (`end_behavior` release)
    (https://docs.stripe.com/api/subscription_schedules/object)."""
    schedule = blank("subscription_schedule", "sub_sched_")
    schedule.update(
        customer=sub["customer"],
        subscription=sub["id"],
        test_clock=sub["test_clock"],
        status="active",
        end_behavior="release",
        phases=phases,
        current_phase={"start_date": phases[0]["start_date"], "end_date": phases[0]["end_date"]},
        billing_mode=copy.deepcopy(sub["billing_mode"]),
    )
    schedule["default_settings"]["default_payment_method"] = sub["default_payment_method"]
    return schedule
