"""The "Show the API call" panels: beside each button, the call it makes, as
Python and curl (see api_calls.py), built by the button's own builder.

Pages make no Stripe calls, so ids that only exist after a click (a new
customer, a checked promotion code) are shown as placeholders; everything
else is exactly what the button sends.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from billing import current, flows, mirror
from billing.buttons import BUTTON, press_for
from billing.catalog import Price
from billing.choosing import Chosen, promo_code
from billing.stripe_api import STRIPE_API_VERSION, StripeAPI
from kit.api_calls import ApiCall, render

# Shown where the real value only exists once the button is pressed.
NEW_CUSTOMER = "cus_... (created on your first click)"

# The SDK's service and the wire path of each Stripe call a button can make.
CALLS = {
    StripeAPI.open_portal: ("billing_portal.sessions", "/v1/billing_portal/sessions"),
    StripeAPI.open_checkout: ("checkout.sessions", "/v1/checkout/sessions"),
    StripeAPI.release_schedule: ("subscription_schedules", "/v1/subscription_schedules/{schedule}/release"),
}


def price_placeholder(price: Price) -> str:
    return f"price_... (the price with lookup key {price.lookup_key})"


def promo_placeholder(code: str) -> str:
    return f"promo_... (the id of code {code}, checked on click)"


def api_call(key: str, price: Price | None = None) -> ApiCall | None:
    """The panel of button `key` for the signed-in user (`price`: a plan card's)."""
    if not current_app.extensions["kit"].show_api_calls:
        return None
    button = BUTTON[key]
    if button.send is None or button.send not in CALLS:
        return None
    service, path = CALLS[button.send]
    params, base = shown_params(key, price), current.settings().stripe_api_base
    if isinstance(params, flows.Release):  # a call on one object: its id is in the path
        where = path.format(schedule=params.schedule)
        return render(service, where, params.params, base, STRIPE_API_VERSION, "release", params.schedule)
    return render(service, path, params, base, STRIPE_API_VERSION)


def shown_params(key: str, price: Price | None = None) -> Any:
    """What button `key` will send, with placeholders for what a click creates."""
    u, button = current.user(), BUTTON[key]
    chosen = button.asks.preview(u, price) if button.asks.preview else Chosen()
    price = chosen.price or price
    code = promo_code() if button.asks.takes_promo else None
    # The id the click would send: the mirror's, which price webhooks keep current.
    known = mirror.known_price_id(current.stripe_api(), price.lookup_key) if price else None
    price_id = (known or price_placeholder(price)) if price else None
    press = press_for(
        u,
        button,
        Chosen(price=price, quantity=chosen.quantity),
        u.stripe_customer_id or NEW_CUSTOMER,
        price_id=price_id,
        discount=flows.Discount(promotion_code=promo_placeholder(code)) if code else None,
    )
    return button.build(press)
