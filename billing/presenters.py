"""Ready-to-show values for the templates: money and dates, status labels,
addresses, and the slots where a plug-in adds to a page.

Templates decide nothing: which buttons exist comes from `buttons` and
`eligibility`; this only formats what the views hand over.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel import Locale
from flask import Flask, current_app, render_template
from markupsafe import Markup

from billing.catalog import Catalog, Price, format_amount


def price_name(catalog: Catalog, price: Price) -> str:
    product = catalog.product(price.product_id)
    return f"{product.name if product else price.lookup_key}, billed {price.interval}ly"


def plan_name(catalog: Catalog, lookup_key: str | None, seats: int | None = None) -> str:
    """ "Starter (monthly)", "Business (monthly, 3 seats)": a catalog price as the account
    page names a plan change (the seats only for a per-seat plan)."""
    price = catalog.price(lookup_key or "")
    product = catalog.product(price.product_id) if price else None
    if price is None or product is None:
        return "another plan"
    if product.seats and seats is not None:
        return f"{product.name} ({price.interval}ly, {seats} seat{'s' if seats != 1 else ''})"
    return f"{product.name} ({price.interval}ly)"


def language_name(code: str) -> str:
    """A Stripe locale named in its own language, as language pickers do: "fr" -> "Français"."""
    name = Locale.parse(code, sep="-").get_display_name() or code
    return name[:1].upper() + name[1:]


def short_day(when: datetime | None) -> str:
    """ "12 Jan": a date on a pricing card's badge."""
    return "—" if when is None else f"{when.day} {when:%b}"


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
    "past_due": "Past due: the last payment failed",
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


def slot(name: str, **values: Any) -> Markup:
    """What plug-ins add to a page at `name` ("head", "header", "button", ...):
    the templates they listed in app.extensions["slots"][name]; nothing by default."""
    templates = current_app.extensions.get("slots", {}).get(name, ())
    return Markup("".join(render_template(template, **values) for template in templates))


def register(app: Flask) -> None:
    app.add_template_filter(format_money, "money")
    app.add_template_filter(format_day, "day")
    app.add_template_filter(short_day)
    app.add_template_filter(status_label)
    app.add_template_global(slot)
    app.context_processor(lambda: {"test_mode": not current_app.extensions["settings"].live_mode})
