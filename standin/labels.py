"""Stripe's enum values (a price's interval, a subscription's or invoice's status) in words of
the page's language; the API values themselves stay English, as on Stripe's own pages."""

from __future__ import annotations

from flask import Flask

from standin.i18n import lazy

# https://docs.stripe.com/api/prices/object#price_object-recurring-interval
INTERVALS = {"day": lazy("day"), "week": lazy("week"), "month": lazy("month"), "year": lazy("year")}
# https://docs.stripe.com/api/subscriptions/object#subscription_object-status and
# https://docs.stripe.com/api/invoices/object#invoice_object-status
STATUSES = {
    "active": lazy("active"),
    "trialing": lazy("trialing"),
    "past_due": lazy("past due"),
    "unpaid": lazy("unpaid"),
    "canceled": lazy("canceled"),
    "incomplete": lazy("incomplete"),
    "incomplete_expired": lazy("incomplete, expired"),
    "paused": lazy("paused"),
    "draft": lazy("draft"),
    "open": lazy("open"),
    "paid": lazy("paid"),
    "uncollectible": lazy("uncollectible"),
    "void": lazy("void"),
}


def interval(value: str | None) -> str:
    return str(INTERVALS.get(value or "", value or ""))


def status(value: str) -> str:
    return str(STATUSES.get(value, value))


def install(app: Flask) -> None:
    app.jinja_env.globals.update(interval=interval, status=status)
