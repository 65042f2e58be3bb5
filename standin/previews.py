"""`POST /v1/invoices/create_preview`: the invoice a plan change would make, stored nowhere.

https://docs.stripe.com/api/invoices/create_preview. The lines come from
`proration.change_lines`, the computation confirm charges with, so the two
cannot drift. Only `customer`, `subscription` and
`subscription_details.items`/`proration_behavior`/`proration_date` are modelled.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint
from stripe.params import InvoiceCreatePreviewParams

from standin import objects, proration
from standin.api import endpoint, find, refuse_unsupported, state
from standin.errors import invalid
from standin.state import StripeObject

bp = Blueprint("previews", __name__, url_prefix="/v1")


@bp.post("/invoices/create_preview")
@endpoint(InvoiceCreatePreviewParams)
def create_preview(params: dict[str, Any]) -> StripeObject:
    refuse_unsupported(params, {"customer", "subscription", "subscription_details", "expand"})
    if "subscription" not in params:
        raise invalid("The stand-in previews subscription changes only: pass `subscription`.", "subscription")
    # Work on copies: a preview changes nothing (not even the invoice sequence).
    subscription = copy.deepcopy(find("subscription", params["subscription"], "subscription"))
    customer = copy.deepcopy(state().objects[subscription["customer"]])
    details = params.get("subscription_details") or {}
    behavior = details.get("proration_behavior", "create_prorations")
    at = int(details.get("proration_date") or objects.now())
    lines: list[StripeObject] = list(subscription.get("_pending_prorations", []))
    bill_items = True
    for change in details.get("items") or []:
        item = next((i for i in subscription["items"]["data"] if i["id"] == change.get("id")), None)
        if item is None:
            raise invalid(f"No such subscription item: '{change.get('id')}'", "subscription_details[items]")
        new_price = (
            find("price", change["price"], "subscription_details[items][price]") if "price" in change else item["price"]
        )
        quantity = int(change.get("quantity") or item["quantity"])
        interval_change, prorations = proration.change_lines(subscription, item, new_price, quantity, behavior, at)
        lines += prorations
        item.update(price=copy.deepcopy(new_price), quantity=quantity)
        if interval_change:
            name, count = proration.interval(new_price)
            item.update(current_period_start=at, current_period_end=objects.add_interval(at, name, count))
        elif behavior == "always_invoice":
            bill_items = False
    discounts = [state().objects[d] for d in subscription["discounts"]]
    in_force = [(d, state().objects[d["source"]["coupon"]]) for d in discounts if d["end"] is None or d["end"] > at]
    with objects.frozen_at(at):
        invoice = objects.paid_invoice(customer, subscription, "upcoming", in_force, False, lines, bill_items)
    # A preview is a draft: nothing paid, no number (https://docs.stripe.com/api/invoices/create_preview).
    invoice.update(id=None, number=None, status="draft", amount_paid=0, amount_remaining=invoice["amount_due"])
    return invoice
