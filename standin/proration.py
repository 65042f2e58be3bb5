"""What a price or quantity change bills: one computation for the preview and the charge.

`POST /v1/invoices/create_preview` and the portal's confirm both call
`change_lines`, so what the preview shows is what confirm then charges
(https://docs.stripe.com/api/invoices/create_preview: "preview the upcoming
invoice ... including prorations").
"""

from __future__ import annotations

from standin import objects
from standin.state import StripeObject


def interval(price: StripeObject) -> tuple[str, int]:
    recurring = price["recurring"] or {"interval": "month", "interval_count": 1}
    return recurring["interval"], int(recurring.get("interval_count") or 1)


def change_lines(
    subscription: StripeObject,
    item: StripeObject,
    new_price: StripeObject,
    new_quantity: int,
    proration_behavior: str,
    at: int,
) -> tuple[bool, list[StripeObject]]:
    """(whether the interval changes, the proration lines) for switching `item` at `at`.

    A different interval always credits the unused time
    (https://docs.stripe.com/billing/subscriptions/billing-cycle#changing);
    within the interval `none` bills nothing, else a credit and a charge for
    the rest of the period (https://docs.stripe.com/billing/subscriptions/prorations).
    """
    interval_change = interval(new_price) != interval(item["price"])
    start, end = int(item["current_period_start"]), int(item["current_period_end"])
    share = max(0, end - at) / (end - start) if end > start else 0.0
    credit = -round((item["price"]["unit_amount"] or 0) * item["quantity"] * share)
    lines = []
    if proration_behavior != "none" or interval_change:
        lines.append(objects.proration_line(subscription, item, item["price"], item["quantity"], credit, at, end))
    if not interval_change and proration_behavior != "none":
        charge = round((new_price["unit_amount"] or 0) * new_quantity * share)
        lines.append(objects.proration_line(subscription, item, new_price, new_quantity, charge, at, end))
    return interval_change, lines
