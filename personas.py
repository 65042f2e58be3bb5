"""Demo personas: customers in the states a demo needs, one click away.

`flask demo seed` makes each persona a user, a Stripe customer paying with one
of Stripe's test payment methods, and a subscription brought into its state
through the API (a test clock lets time pass where a state needs it: a trial
that ends on a declining card makes a past-due subscription). `flask demo
reset` removes exactly what seed made. In offline and test mode the header
has a persona menu that signs in as any of them.

Never in live mode: the switcher signs in without a password.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from flask import Blueprint, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_user
from sqlalchemy import select

from billing import PERSONA_CLOCK_PREFIX, Billing
from catalog import Catalog, Price
import sync
from models import User, db, save_subscription

DAY = 24 * 60 * 60


@dataclass(frozen=True)
class Persona:
    key: str
    name: str
    summary: str
    # Which catalog plan: "highlighted" (else the first), "first", or "seats"
    # (the first per-seat product). Relative, so personas survive catalog edits.
    plan: str | None = None
    interval: str = "month"
    quantity: int = 1
    trial_days: int | None = None
    cancel_at_period_end: bool = False
    # One of Stripe's test payment methods.
    payment_method: str = "pm_card_visa"
    # What happens after the subscription is made: "pause", "cancel", or
    # "end_trial" (a test clock moves past the trial's end, and the first charge runs).
    then: str | None = None

    @property
    def email(self) -> str:
        return f"{self.key}@personas.example"


PERSONAS = (
    Persona("new", "Nadia", "No plan yet: subscribe from the pricing page."),
    Persona("monthly", "Mona", "Monthly plan, active.", plan="highlighted"),
    Persona("yearly", "Yusuf", "Yearly plan, active.", plan="first", interval="year"),
    Persona("seats", "Sasha", "Per-seat plan with 5 seats.", plan="seats", quantity=5),
    Persona("trialing", "Tara", "In a 14-day free trial.", plan="highlighted", trial_days=14),
    Persona("cancel-scheduled", "Carlos", "Cancels at the end of the period.", plan="highlighted", cancel_at_period_end=True),
    Persona(
        "past-due",
        "Priya",
        "Past due: the card on file declined the first charge after the trial.",
        plan="highlighted",
        trial_days=1,
        payment_method="pm_card_chargeCustomerFail",
        then="end_trial",
    ),
    Persona("paused", "Paul", "Paused.", plan="highlighted", then="pause"),
    Persona("canceled", "Cleo", "Canceled: only invoices are left.", plan="first", then="cancel"),
)


def persona(key: str) -> Persona | None:
    return next((p for p in PERSONAS if p.key == key), None)


def plan_price(catalog: Catalog, p: Persona) -> Price | None:
    """The catalog price a persona subscribes to (None: no plan, or none fits)."""
    if p.plan is None:
        return None
    products = list(catalog.products)
    if p.plan == "seats":
        products = [product for product in products if product.seats]
    elif p.plan == "highlighted":
        products = [product for product in products if product.highlighted] + products
    for product in products:
        if p.interval in product.prices:
            return product.prices[p.interval]
    return None


def _user(p: Persona) -> User | None:
    return db.session.scalar(select(User).where(User.email == p.email))


def seed(billing: Billing, catalog: Catalog) -> Iterator[tuple[Persona, bool]]:
    """Make every persona that is missing or half-made; yield (persona, made now)."""
    for p in PERSONAS:
        price = plan_price(catalog, p)
        if p.plan is not None and price is None:
            continue  # the catalog has no plan of this kind (e.g. no per-seat product)
        user = _user(p)
        if user is not None and user.stripe_customer_id and (price is None or user.subscription is not None):
            yield p, False
            continue
        if user is None:
            user = User(email=p.email)
            # Personas sign in through the demo menu only: no one knows this password.
            user.set_password(secrets.token_urlsafe(32))
            db.session.add(user)
        else:
            _remove_from_stripe(billing, p)  # a half-made persona starts over
        _make(billing, user, p, price)
        yield p, True


def _make(billing: Billing, user: User, p: Persona, price: Price | None) -> None:
    clock = None
    if p.then == "end_trial":
        clock = billing.create_test_clock(PERSONA_CLOCK_PREFIX + p.name)
    user.stripe_customer_id = billing.create_persona_customer(
        p.email, f"{p.name} (demo)", p.key, p.payment_method, test_clock=clock[0] if clock else None
    )
    db.session.commit()  # a persona half-made by a failure below is made again by the next seed
    if price is None:
        sync.refresh_profile(billing, user)
        db.session.commit()
        return
    snap = billing.create_persona_subscription(
        user.stripe_customer_id, price.lookup_key, p.quantity, p.trial_days, p.cancel_at_period_end
    )
    if p.then == "pause":
        snap = billing.pause_subscription(snap.id)
    elif p.then == "cancel":
        snap = billing.cancel_subscription(snap.id)
    elif p.then == "end_trial" and clock is not None:
        clock_id, now = clock
        # Past the trial's end and the hour Stripe waits before charging the first invoice.
        billing.advance_test_clock(clock_id, now + (p.trial_days or 0) * DAY + DAY)
        snap = billing.current_subscription(user.stripe_customer_id) or snap
    save_subscription(user, snap)
    sync.refresh_profile(billing, user)
    db.session.commit()


def _remove_from_stripe(billing: Billing, p: Persona) -> None:
    for clock_id in billing.persona_test_clocks(PERSONA_CLOCK_PREFIX + p.name):
        billing.delete_test_clock(clock_id)  # and the customers on it
    for customer_id in billing.persona_customers(p.email, p.key):
        billing.delete_customer(customer_id)


def reset(billing: Billing) -> int:
    """Remove every persona's Stripe customers, test clocks and user; return how many users went."""
    removed = 0
    for p in PERSONAS:
        _remove_from_stripe(billing, p)
        user = _user(p)
        if user is not None:
            db.session.delete(user)
            removed += 1
    db.session.commit()
    return removed


# --- the persona menu in the header --------------------------------------------------

bp = Blueprint("demo", __name__)


@bp.post("/demo/persona")
def switch() -> ResponseReturnValue:
    """Sign in as a persona in one click (offline and test mode only; CSRF-checked)."""
    p = persona(request.form.get("persona", ""))
    if p is None:
        flash("There is no such demo persona.", "error")
        return redirect(url_for("pricing"), 303)
    user = _user(p)
    if user is None:
        flash("That persona does not exist yet: run `flask --app app demo seed`.", "error")
        return redirect(url_for("pricing"), 303)
    login_user(user)
    flash(f"Signed in as {p.name}: {p.summary}", "success")
    return redirect(url_for("account"), 303)


def menu(catalog: Catalog) -> list[Persona]:
    """The personas the header menu offers (those this catalog can make)."""
    return [p for p in PERSONAS if p.plan is None or plan_price(catalog, p) is not None]

