"""`POST /v1/invoices/create_preview` says, to the cent, what confirm then charges.

Both use `standin.proration.change_lines`
(https://docs.stripe.com/api/invoices/create_preview).
"""

from __future__ import annotations

from typing import Any

import stripe
from werkzeug.test import Client

from standin import StandIn, effects, objects
from tests.standin.test_plan_changes import _confirm, _half_way, _set_proration, yearly  # noqa: F401


def test_monthly_to_yearly_preview_equals_the_charge(
    client: stripe.StripeClient,
    web: Client,
    page_path: Any,
    stand_in: StandIn,
    subscribed: Any,
    yearly: Any,  # noqa: F811
) -> None:
    customer, sub = subscribed
    _half_way(stand_in, sub.id)
    with objects.frozen_at(objects.now()):
        preview = client.v1.invoices.create_preview(
            {
                "customer": customer.id,
                "subscription": sub.id,
                "subscription_details": {"items": [{"id": sub["items"].data[0].id, "price": yearly.id}]},
            }
        )
        assert _confirm(client, web, page_path, customer, sub, yearly.id).status_code == 303
    charged = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]}).latest_invoice
    assert [line.amount for line in preview.lines.data] == [line.amount for line in charged.lines.data]
    assert (preview.amount_due, preview.total) == (charged.amount_paid, charged.total) == (9500, 9500)
    assert preview.status == "draft"
    # A preview stores nothing.
    assert len(client.v1.invoices.list({"customer": customer.id}).data) == 2


def test_same_interval_upgrade_preview_equals_the_next_invoice(
    client: stripe.StripeClient, web: Client, page_path: Any, stand_in: StandIn, catalog: Any, subscribed: Any
) -> None:
    customer, sub = subscribed
    _set_proration(client, catalog, "create_prorations")
    end = _half_way(stand_in, sub.id)
    with objects.frozen_at(objects.now()):
        preview = client.v1.invoices.create_preview(
            {
                "customer": customer.id,
                "subscription": sub.id,
                "subscription_details": {
                    "items": [{"id": sub["items"].data[0].id, "price": catalog.pro.id}],
                    "proration_behavior": "create_prorations",
                },
            }
        )
        _confirm(client, web, page_path, customer, sub, catalog.pro.id)
    with stand_in.state.lock, objects.frozen_at(end):
        effects._change(stand_in.state, stand_in.state.objects[sub.id], end)
    renewal = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]}).latest_invoice
    # Half of Basic ($10) credited, half of Pro ($25) charged, then Pro's next month.
    assert [line.amount for line in preview.lines.data] == [line.amount for line in renewal.lines.data]
    assert preview.amount_due == renewal.amount_paid == 3250
