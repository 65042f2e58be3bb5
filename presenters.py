"""Ready-to-show values for the templates: money and dates, status labels, the
account page's buttons and their "Show the API call" panels.

Templates decide nothing: which buttons exist comes from `eligibility`, and
the panels render the params that `app.button_params` builds for the route.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, url_for

from api_call import ApiCall, render
from billing import STRIPE_API_VERSION, Billing
from catalog import Catalog, Price, format_amount
from config import Settings
from eligibility import Choice

if TYPE_CHECKING:
    from stripe.params.billing_portal import SessionCreateParams as PortalSessionParams
    from stripe.params.checkout import SessionCreateParams as CheckoutSessionParams

# Shown in a panel where the real value only exists once the button is pressed.
NEW_CUSTOMER = "cus_... (created on your first click)"


def price_placeholder(price: Price) -> str:
    return f"price_... (the price with lookup key {price.lookup_key})"


def promo_placeholder(code: str) -> str:
    return f"promo_... (the id of code {code}, checked on click)"


def shown_price_id(billing: Billing, price: Price) -> str:
    return billing.known_price_id(price.lookup_key) or price_placeholder(price)


def _call(service: str, path: str, params: Mapping[str, Any]) -> ApiCall | None:
    settings: Settings = current_app.extensions["settings"]
    if not settings.show_api_calls:
        return None
    return render(service, path, params, settings.stripe_api_base, STRIPE_API_VERSION)


def portal_call(params: PortalSessionParams) -> ApiCall | None:
    return _call("billing_portal.sessions", "/v1/billing_portal/sessions", params)


def checkout_call(params: CheckoutSessionParams) -> ApiCall | None:
    return _call("checkout.sessions", "/v1/checkout/sessions", params)


@dataclass(frozen=True)
class ButtonView:
    key: str
    label: str
    note: str
    endpoint: str
    style: str
    api_call: ApiCall | None


# The account page's portal buttons, in the order shown: (button, endpoint, style).
ACCOUNT_BUTTONS = (
    ("change_interval", "change_interval", "secondary"),
    ("change_quantity", "change_quantity", "secondary"),
    ("plan_picker", "plan_picker", "secondary"),
    ("pause", "pause", "secondary"),
    ("cancel", "cancel", "danger"),
    ("update_payment_method", "update_payment_method", "secondary"),
    ("update_details", "update_details", "secondary"),
    ("manage_billing", "manage_billing", "secondary"),
)


def account_buttons(
    choices: Mapping[str, Choice], params_for: Callable[[str], PortalSessionParams]
) -> dict[str, ButtonView]:
    """The allowed portal buttons, each with the API call it makes."""
    return {
        key: ButtonView(key, choices[key].label, choices[key].note, endpoint, style, portal_call(params_for(key)))
        for key, endpoint, style in ACCOUNT_BUTTONS
        if choices[key].allowed
    }


def price_name(catalog: Catalog, price: Price) -> str:
    product = catalog.product(price.product_id)
    return f"{product.name if product else price.lookup_key}, billed {price.interval}ly"


def yearly_saving(catalog: Catalog) -> int:
    """The best saving of a yearly price over twelve monthly ones, in percent."""
    savings = [
        round(100 * (1 - p.prices["year"].amount / (12 * p.prices["month"].amount)))
        for p in catalog.products
        if "year" in p.prices and "month" in p.prices
    ]
    return max(savings, default=0)


def format_money(amount: int | None, currency: str | None) -> str:
    return "—" if amount is None or currency is None else format_amount(amount, currency)


def format_day(when: datetime | None) -> str:
    return "—" if when is None else f"{when:%B} {when.day}, {when.year}"


STATUS_LABELS = {
    "trialing": "Trial",
    "active": "Active",
    "past_due": "Past due: please update your card",
    "unpaid": "Unpaid",
    "incomplete": "Awaiting first payment",
    "incomplete_expired": "Expired",
    "canceled": "Canceled",
    "paused": "Paused",
}


def address(fields: dict[str, str | None] | None) -> str:
    """Stripe's address fields on one line: "1 Main St, Springfield 12345, US"."""
    if not fields:
        return ""
    city = " ".join(part for part in (fields.get("city"), fields.get("state"), fields.get("postal_code")) if part)
    parts = (fields.get("line1"), fields.get("line2"), city, fields.get("country"))
    return ", ".join(part for part in parts if part)


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


def register(app: Flask) -> None:
    app.add_template_filter(format_money, "money")
    app.add_template_filter(format_day, "day")
    app.add_template_filter(status_label)
    app.jinja_env.globals["button_url"] = lambda view: url_for(view.endpoint)
