"""How many of a plan a subscription or a plan change asks for: one pure rule.

Every plan change states its quantity. Stripe's reference makes `quantity` optional beside
`price` in `flow_data.subscription_update_confirm.items`
(https://docs.stripe.com/api/customer_portal/sessions/create#create_portal_session-flow_data-subscription_update_confirm-items-quantity)
and does not say what its absence means there; the portal session echoes the item's current
quantity, so a customer with 5 seats of a per-seat plan who switches to a flat one would be
billed 5 times its price, while updating a subscription item's price without one sets 1
(https://docs.stripe.com/api/subscription_items/update). Nothing here relies on either.

No Flask, no database: the buttons' checks and previews (billing.choosing), and so the
pricing card's seats field and the API-call panels, call `quantity_to_send` with the
catalog's products and the seats the subscription has.
"""

from __future__ import annotations

from billing.catalog import Product, Seats
from billing.eligibility import NotEligible


def seats_refusal(seats: Seats) -> str:
    return f"Choose between {seats.min} and {seats.max} seats."


def quantity_to_send(
    new: Product, chosen: int | None = None, current: Product | None = None, current_quantity: int = 1
) -> int:
    """The quantity to ask Stripe for when the customer moves to (or subscribes to) `new`.

    A flat plan is always 1, whatever a form sent. A per-seat plan takes the seats the
    customer chose, which must be within the catalog's bounds (NotEligible says which);
    with no choice, the seats they have now if `current` is priced per seat too (brought
    within the new plan's bounds), else the new plan's fewest. `current` is None for a
    first subscription; an interval switch passes the same product as `new` and `current`.
    """
    seats = new.seats
    if seats is None:
        return 1
    if chosen is None:
        return clamp(current_quantity, seats) if current is not None and current.seats else seats.min
    if not seats.min <= chosen <= seats.max:
        raise NotEligible(seats_refusal(seats))
    return chosen


def clamp(quantity: int, seats: Seats) -> int:
    """`quantity` brought within the bounds: a plan with fewer allowed seats keeps as many as it can."""
    return max(seats.min, min(seats.max, quantity))
