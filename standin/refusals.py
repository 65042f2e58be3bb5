"""Requests Stripe refuses that the stand-in used to accept (issue 22, item 5).

Each check raises the error Stripe answers, with its status, type, `code` and `param`,
so that a request refused live is refused offline too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from standin.errors import invalid

URL_INVALID = "url_invalid"
# Stripe's words for a URL without a scheme (https://docs.stripe.com/error-codes, url_invalid:
# "The URL provided is invalid"); the message is the one Stripe's API answers.
NO_SCHEME = "Invalid URL: An explicit scheme (such as https) must be provided."
# `flow_data.after_completion.hosted_confirmation.custom_message`: "Max length: 500"
# (https://docs.stripe.com/api/customer_portal/sessions/create, the SDKs' SessionCreateParams).
CUSTOM_MESSAGE_MAX = 500


def check_url(value: Any, param: str) -> None:
    """Refuse a URL that has no scheme and host, e.g. "example.com/x" or "not a url"."""
    if not isinstance(value, str):
        return
    parts = urlsplit(value)
    if not parts.scheme or not parts.netloc or " " in value:
        raise invalid(NO_SCHEME, param, code=URL_INVALID)


def check_session(params: dict[str, Any]) -> None:
    """The checks of POST /v1/billing_portal/sessions the stand-in's older code lacked."""
    check_url(params.get("return_url"), "return_url")
    after = (params.get("flow_data") or {}).get("after_completion") or {}
    redirect = after.get("redirect") or {}
    check_url(redirect.get("return_url"), "flow_data[after_completion][redirect][return_url]")
    message = (after.get("hosted_confirmation") or {}).get("custom_message")
    if isinstance(message, str) and len(message) > CUSTOM_MESSAGE_MAX:
        param = "flow_data[after_completion][hosted_confirmation][custom_message]"
        # Stripe's answer to a string over its maximum length (code string_length_exceeds... is
        # not documented; the API reference gives only the maximum, so the code is left out).
        raise invalid(f"Invalid string: must be at most {CUSTOM_MESSAGE_MAX} characters", param)


def schedule_pause_refusal(subscription: dict[str, Any]) -> str | None:
    """A subscription with a schedule cannot be paused, by the API or the portal's pause flow
    (https://docs.stripe.com/api/subscriptions/pause: "Cannot pause subscriptions with attached
    schedules")."""
    if subscription.get("schedule"):
        return "Cannot pause subscriptions with attached schedules"
    return None


def exhausted(coupon: dict[str, Any]) -> bool:
    """A coupon redeemed `max_redemptions` times can be redeemed no more
    (https://docs.stripe.com/api/coupons/create: max_redemptions)."""
    limit = coupon.get("max_redemptions")
    return limit is not None and coupon.get("times_redeemed", 0) >= limit
