"""Demo personas: customers in the states a demo needs, one click away.

`flask demo seed` makes each persona a user, a Stripe customer paying with one
of Stripe's test payment methods, and a subscription brought into its state
through the API (a test clock lets time pass where a state needs it: a trial
that ends on a declining card makes a past-due subscription). `flask demo
reset` removes exactly what seed made and seeds again (`--remove-only`: just
removes). In offline and test mode the header has a persona menu that signs in
as any of them.

Never in live mode: the switcher signs in without a password.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select

from billing import current, mirror
from billing.accounts import User, delete_user
from billing.catalog import Catalog, Price
from billing.models import BillingAccount, db, forget_customer_from_elsewhere, save_subscription
from billing.stripe_api import StripeAPI
from kit import demo_stripe
from kit.demo_stripe import PERSONA_CLOCK_PREFIX

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
    Persona(
        "cancel-scheduled", "Carlos", "Cancels at the end of the period.", plan="highlighted", cancel_at_period_end=True
    ),
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
    Persona("canceled", "Cleo", "Canceled: invoices and billing details are still there.", plan="first", then="cancel"),
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


def user_of(p: Persona) -> User | None:
    return db.session.scalar(select(User).where(User.email == p.email))


def seed(api: StripeAPI, catalog: Catalog) -> Iterator[tuple[Persona, bool]]:
    """Make every persona that is missing or half-made; yield (persona, made now)."""
    for p in PERSONAS:
        price = plan_price(catalog, p)
        if p.plan is not None and price is None:
            continue  # the catalog has no plan of this kind (e.g. no per-seat product)
        user = user_of(p)
        account = current.account_of(user) if user is not None else None
        if account is not None:
            # A persona made offline is no customer under a test key (nor the reverse): remake it.
            forget_customer_from_elsewhere(account, api.origin)
        if account is not None and account.stripe_customer_id and (price is None or account.subscription is not None):
            yield p, False
            continue
        if user is None:
            user = User(email=p.email)
            # Personas sign in through the demo menu only: no one knows this password.
            user.set_password(secrets.token_urlsafe(32))
            db.session.add(user)
            db.session.commit()
        else:
            _remove_from_stripe(api, p)  # a half-made persona starts over
        _make(api, account or current.account_of(user), p, price)
        yield p, True


def _make(api: StripeAPI, account: BillingAccount, p: Persona, price: Price | None) -> None:
    clock = None
    if p.then == "end_trial":
        clock = demo_stripe.create_test_clock(api, PERSONA_CLOCK_PREFIX + p.name)
    customer = demo_stripe.create_persona_customer(
        api, p.email, f"{p.name} (demo)", p.key, p.payment_method, test_clock=clock[0] if clock else None
    )
    account.use_customer(customer, api.origin)
    db.session.commit()  # a persona half-made by a failure below is made again by the next seed
    if price is None:
        mirror.refresh_profile(api, account)
        db.session.commit()
        return
    snap = demo_stripe.create_persona_subscription(
        api, customer, price.lookup_key, p.quantity, p.trial_days, p.cancel_at_period_end
    )
    if p.then == "pause":
        snap = demo_stripe.pause_subscription(api, snap.id)
    elif p.then == "cancel":
        snap = demo_stripe.cancel_subscription(api, snap.id)
    elif p.then == "end_trial" and clock is not None:
        clock_id, now = clock
        # Past the trial's end and the hour Stripe waits before charging the first invoice.
        demo_stripe.advance_test_clock(api, clock_id, now + (p.trial_days or 0) * DAY + DAY)
        snap = api.current_subscription(customer) or snap
    save_subscription(account, snap)
    mirror.refresh_profile(api, account)
    db.session.commit()


def _remove_from_stripe(api: StripeAPI, p: Persona) -> None:
    for clock_id in demo_stripe.persona_test_clocks(api, PERSONA_CLOCK_PREFIX + p.name):
        demo_stripe.delete_test_clock(api, clock_id)  # and the customers on it
    for customer_id in demo_stripe.persona_customers(api, p.email, p.key):
        demo_stripe.delete_customer(api, customer_id)


def reset(api: StripeAPI) -> int:
    """Remove every persona's Stripe customers, test clocks and user; return how many users went."""
    removed = 0
    for p in PERSONAS:
        _remove_from_stripe(api, p)
        user = user_of(p)
        if user is not None:
            delete_user(user)
            removed += 1
    db.session.commit()
    return removed


def start_over(api: StripeAPI, catalog: Catalog) -> tuple[int, list[Persona]]:
    """Every persona back in its starting state: all removed, then made again.
    Returns how many users were removed and the personas made."""
    removed = reset(api)
    return removed, [p for p, made in seed(api, catalog) if made]


def menu(catalog: Catalog) -> list[Persona]:
    """The personas the header menu offers (those this catalog can make)."""
    return [p for p in PERSONAS if p.plan is None or plan_price(catalog, p) is not None]
