"""What a finished step on Stripe's pages changed, in the customer's words.

When a button sends the customer to Stripe, `remember` keeps what the account
page showed then (in the session). Back on the site, `describe` compares it with
the mirror after the refresh. Comparing with the state at departure, not with
the mirror just before the refresh, keeps the message when a webhook has already
brought the change: the message follows what changed, not which button was pressed.
"""

from __future__ import annotations

from typing import Any

from billing.catalog import Catalog
from billing.models import Subscription, User
from billing.presenters import format_day, plan_name

# The session key holding what the account page showed when the customer left,
# and under STEP_CHANGES what the step could change (see Returns.changes in billing.buttons).
LEFT_WITH = "left_with"
STEP_CHANGES = "step_changes"


def remember(user: User) -> dict[str, Any]:
    """What the account page shows, as plain values a session cookie can hold."""
    sub, profile = user.subscription, user.profile
    when = sub.scheduled_cancel_at if sub else None
    return {
        "status": sub.status if sub else None,
        "lookup_key": sub.lookup_key if sub else None,
        "quantity": sub.quantity if sub else None,
        "cancel_at": when.isoformat() if when else None,
        "discount": sub.discount_coupon if sub else None,
        "switch": [sub.scheduled_lookup_key, sub.scheduled_quantity, sub.scheduled_at.isoformat()]
        if sub and sub.scheduled_at
        else None,
        "card": profile.card_last4 if profile else None,
        "details": [profile.name, profile.email, profile.address] if profile else None,
    }


def describe(before: dict[str, Any], user: User, catalog: Catalog) -> list[str]:
    """One sentence for each thing that changed since `before` (none if nothing did)."""
    now, sub, profile = remember(user), user.subscription, user.profile
    messages = []
    if sub is not None and now["status"] != before.get("status"):
        messages.append(_status_message(before.get("status"), now["status"]))
    if sub is not None and before.get("status") is not None and now["lookup_key"] != before.get("lookup_key"):
        price = catalog.price(sub.lookup_key or "")
        product = catalog.product(price.product_id) if price else None
        name = product.name if product else sub.lookup_key
        messages.append(
            f"You are now on {name}, billed {sub.interval}ly." if sub.interval else f"You are now on {name}."
        )
    if sub is not None and before.get("quantity") is not None and now["quantity"] != before.get("quantity"):
        messages.append(f"You now have {sub.quantity} seat{'s' if sub.quantity != 1 else ''}.")
    if sub is not None and now["cancel_at"] != before.get("cancel_at") and sub.status != "canceled":
        when = sub.scheduled_cancel_at
        messages.append(
            f"Your subscription will end on {format_day(when)}; you keep access until then."
            if when
            else "Your subscription will renew as usual: the cancellation is withdrawn."
        )
    if sub is not None and now["switch"] != before.get("switch") and now["lookup_key"] == before.get("lookup_key"):
        messages.append(_switch_message(sub, now, catalog))
    if sub is not None and now["discount"] != before.get("discount") and sub.discount_coupon:
        coupon = catalog.coupon(sub.discount_coupon)
        messages.append(f"{coupon.name if coupon else sub.discount_coupon} is applied to your subscription.")
    if profile is not None and before.get("card") is not None and now["card"] != before.get("card"):
        brand = (profile.card_brand or "card").title()
        messages.append(f"Your {brand} ending in {profile.card_last4} is now your default card.")
    if profile is not None and before.get("details") is not None and now["details"] != before.get("details"):
        messages.append("Your billing details are updated.")
    return [m for m in messages if m]


def _switch_message(sub: Subscription, now: dict[str, Any], catalog: Catalog) -> str:
    """A switch kept for the period's end is not done yet: say when it happens, or that it won't."""
    keeping = plan_name(catalog, sub.lookup_key, sub.quantity)
    if now["switch"] is None:
        return f"You keep {keeping}: the scheduled plan change is canceled."
    coming = plan_name(catalog, sub.scheduled_lookup_key, sub.scheduled_quantity)
    return f"Your switch to {coming} is scheduled for {format_day(sub.scheduled_at)}; you keep {keeping} until then."


def _status_message(before: str | None, now: str | None) -> str:
    if now in ("active", "trialing") and before in (None, "canceled", "incomplete", "incomplete_expired"):
        return "Thank you! Your subscription is active."
    if now == "active" and before in ("past_due", "unpaid"):
        return "Your payment went through: your subscription is active again."
    if now == "active" and before == "paused":
        return "Your subscription is active again."
    if now == "paused":
        return "Your subscription is paused: no charges until you resume it."
    if now == "canceled":
        return "Your subscription has ended."
    return ""
