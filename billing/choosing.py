"""What the customer chose on a page: read from a button's form, checked against their
subscription, and previewed before any input (the pricing card's seats field and the
demo's API-call panels show the preview, so they show what a click sends).

Each button names its readers in `billing.buttons.BUTTONS` (`Asks`); how many seats a
plan change asks for is decided in one place, `billing.quantities`. The campaign code a
customer brings from /pricing?promo=CODE is kept here too, checked for the chosen plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import session

from billing import current, flows
from billing.campaign import PROMO  # a campaign link's code, kept in the session
from billing.catalog import Catalog, Price, Product
from billing.eligibility import NotEligible, check_plan_change
from billing.forms import PlanForm, SeatsForm
from billing.models import BillingAccount, Subscription
from billing.quantities import quantity_to_send, seats_refusal
from billing.stripe_api import BillingError

NO_OTHER_INTERVAL = "Your plan has no other billing interval."


@dataclass(frozen=True)
class Chosen:
    """What the customer chose on the page, read from the form and checked: the plan (None:
    the one they have) and how many of it (None until checked: see `quantity_for`)."""

    price: Price | None = None
    quantity: int | None = None


def other_interval_price(c: Catalog, sub: Subscription | None) -> Price | None:
    """The same plan billed at the other interval (monthly <-> yearly), if the catalog has it."""
    current_price = c.price(sub.lookup_key or "") if sub else None
    product = c.product(current_price.product_id) if current_price else None
    if current_price is None or product is None:
        return None
    return next((p for p in product.prices.values() if p.interval != current_price.interval), None)


def current_product(u: BillingAccount) -> Product | None:
    """The catalog product of the user's live subscription (None without one)."""
    sub, c = u.subscription, current.catalog()
    price = c.price(sub.lookup_key or "") if sub and sub.is_live else None
    return c.product(price.product_id) if price else None


def quantity_for(u: BillingAccount, price: Price, chosen: int | None = None) -> int:
    """The quantity a move of `u` to `price` asks for (see quantities.quantity_to_send)."""
    new = current.catalog().product(price.product_id)
    assert new is not None, "the catalog refuses a price without its product"
    sub = u.subscription
    held = sub.quantity if sub and sub.is_live else 1
    return quantity_to_send(new, chosen, current_product(u), held)


# -- Reading the form (a button's `choose`) ----------------------------------------------


def catalog_plan() -> Chosen:
    """The plan a pricing card's button names: a lookup key from our catalog, never a price id;
    for a per-seat plan, the seats typed in its field (checked by the button's `check`)."""
    form = PlanForm()
    form.validate()
    price = None if form.lookup_key.errors else current.catalog().price(form.lookup_key.data or "")
    if price is None:
        raise NotEligible("That plan is not on our pricing page.")
    product = current.catalog().product(price.product_id)
    if product is None or product.seats is None or not form.quantity.raw_data:
        return Chosen(price=price)  # a flat plan ignores a quantity; none typed: the default
    if form.quantity.errors or form.quantity.data is None:
        raise NotEligible(seats_refusal(product.seats))
    return Chosen(price=price, quantity=form.quantity.data)


# -- Checking it against the subscription (a button's `check`) ----------------------------


def new_plan(u: BillingAccount, chosen: Chosen) -> Chosen:
    """A first subscription: the plan, with the quantity Checkout starts with."""
    assert chosen.price is not None, "catalog_plan always names a price"
    return Chosen(chosen.price, quantity_for(u, chosen.price, chosen.quantity))


def plan_change(u: BillingAccount, chosen: Chosen) -> Chosen:
    """A switch the subscription can make, with the quantity it states."""
    if chosen.price is None or u.subscription is None:
        raise NotEligible(NO_OTHER_INTERVAL)
    check_plan_change(u.subscription.facts(), chosen.price)
    return Chosen(chosen.price, quantity_for(u, chosen.price, chosen.quantity))


def other_interval(u: BillingAccount, chosen: Chosen) -> Chosen:
    """The same plan at the other interval, with the seats the customer has."""
    return plan_change(u, Chosen(price=other_interval_price(current.catalog(), u.subscription)))


def seats(u: BillingAccount, chosen: Chosen) -> Chosen:
    """A new number of seats for the per-seat plan the customer has (the price stays)."""
    sub, product = u.subscription, current_product(u)
    if sub is None or product is None or product.seats is None:
        raise NotEligible("Your plan is not priced per seat.")
    form = SeatsForm()
    if not form.validate() or form.quantity.data is None:
        raise NotEligible(seats_refusal(product.seats))
    quantity = quantity_to_send(product, form.quantity.data, product, sub.quantity)
    if quantity == sub.quantity:
        raise NotEligible("You already have this many seats.")
    return Chosen(quantity=quantity)


# -- What a press would choose before any input (a button's `preview`) --------------------


def plan_preview(u: BillingAccount, price: Price | None) -> Chosen:
    """A pricing card's plan, with the seats its field starts with."""
    return Chosen(price, quantity_for(u, price) if price else None)


def other_interval_preview(u: BillingAccount, price: Price | None) -> Chosen:
    return plan_preview(u, other_interval_price(current.catalog(), u.subscription))


def seats_preview(u: BillingAccount, price: Price | None) -> Chosen:
    return Chosen(quantity=u.subscription.quantity if u.subscription else None)


# -- The campaign code the customer brings (buttons that take one: `takes_promo`) --------


def promo_code() -> str | None:
    code = session.get(PROMO)
    return code if isinstance(code, str) else None


def checked_promotion_code(chosen: Chosen) -> flows.Discount | None:
    """The session's campaign code, checked with Stripe for the chosen plan; BillingError if unusable."""
    code = promo_code()
    if code is None or chosen.price is None:
        return None
    try:
        return flows.Discount(promotion_code=current.stripe_api().promotion_code_id(code, chosen.price.product_id))
    except BillingError:
        session.pop(PROMO, None)  # do not offer a bad code again
        raise
