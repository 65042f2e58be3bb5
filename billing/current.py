"""What every view reads from the running app: its settings, the catalog, the
Stripe client (each made once in `create_app`), and the current customer: the
billing account of whoever the sign-in says is signed in (billing.signin)."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.exc import IntegrityError

from billing import signin
from billing.catalog import Catalog
from billing.models import BillingAccount, db, forget_customer_from_elsewhere
from billing.settings import Settings
from billing.stripe_api import StripeAPI


def settings() -> Settings:
    s: Settings = current_app.extensions["settings"]
    return s


def catalog() -> Catalog:
    c: Catalog = current_app.extensions["catalog"]
    return c


def stripe_api() -> StripeAPI:
    api: StripeAPI = current_app.extensions["stripe"]
    return api


def account() -> BillingAccount:
    """The signed-in person's billing account (views behind `login_required` only)."""
    found = account_or_none()
    if found is None:
        raise LookupError("no one is signed in: the view needs signin.login_required")
    return found


def account_or_none() -> BillingAccount | None:
    """The signed-in person's billing account, made on first need; None if signed out."""
    if "billing_account" not in g:
        person = signin.person()
        g.billing_account = None if person is None else account_of(person)
    found: BillingAccount | None = g.billing_account
    return found


def account_of(person: signin.Person) -> BillingAccount:
    """`person`'s billing account, made if they have none yet (committed), with the email
    the sign-in gives now."""
    owner_id = str(person.id)
    found = _find(owner_id)
    if found is None:
        found = BillingAccount(owner_id=owner_id, email=person.email)
        db.session.add(found)
        try:
            db.session.commit()
        except IntegrityError:  # the person's other request made it first
            db.session.rollback()
            found = _find(owner_id)
            assert found is not None, "an account made by another request is there"
    changed = found.email != person.email
    found.email = person.email
    if forget_customer_from_elsewhere(found, settings().stripe_origin) or changed:
        db.session.commit()
    return found


def _find(owner_id: str) -> BillingAccount | None:
    found: BillingAccount | None = db.session.scalar(
        db.select(BillingAccount).where(BillingAccount.owner_id == owner_id)
    )
    return found
