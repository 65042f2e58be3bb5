"""The site's database as the storm sees it, through the site's own app and models: the
billing accounts it seeds, the mirror it brings in sync before the storm (the site's own
refresh), and the mirror it then watches converge. Like ops/bench/site.py, it builds the
site with `create_app()`, so it may import `app` (tests/core/test_layout.py)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from billing import mirror
from billing.accounts import User
from billing.models import BillingAccount, BillingProfile, StripeEvent, Subscription, db


@dataclass(frozen=True)
class Mirrored:
    """What the storm changes at Stripe, as one side (the mirror or the stand-in) holds it."""

    status: str | None
    cancel_at_period_end: bool | None
    name: str | None


def in_process_app(env: dict[str, str]) -> Flask:
    """The site as its instances build it, from the same settings (no .env read)."""
    from app import create_app  # only here: importing the site starts nothing

    logging.disable(logging.INFO)  # the migrations' and the start's chatter
    try:
        return create_app(env)
    finally:
        logging.disable(logging.NOTSET)


def add_accounts(app: Flask, customers: dict[str, str], password: str) -> None:
    """A user of the site's sign-in (all with `password`) and the billing account they own
    for each Stripe customer id -> email, in one transaction."""
    password_hash = generate_password_hash(password)  # one hash: most never sign in
    origin = app.extensions["settings"].stripe_origin
    with app.app_context():
        for customer, email in customers.items():
            user = User(email=email, password_hash=password_hash)
            db.session.add(user)
            db.session.flush()  # its id names its billing account
            account = BillingAccount(owner_id=str(user.id), email=email)
            account.use_customer(customer, origin)
            db.session.add(account)
        db.session.commit()


def refresh_all(app: Flask, threads: int) -> int:
    """The site's own refresh (billing.mirror) for every account, `threads` at a time: the
    mirror in sync with Stripe before the storm. Returns how many accounts failed."""
    with app.app_context():
        ids = db.session.scalars(select(BillingAccount.id)).all()
    api = app.extensions["stripe"]

    def one(account_id: int) -> bool:
        with app.app_context():
            account = db.session.get(BillingAccount, account_id)
            assert account is not None
            try:
                mirror.refresh(api, account)
                db.session.commit()
                return True
            except Exception:  # noqa: BLE001 - counted; the caller stops on any
                db.session.rollback()
                return False

    with ThreadPoolExecutor(threads) as pool:
        return sum(not ok for ok in pool.map(one, ids))


def mirrored(app: Flask) -> dict[str, Mirrored]:
    """Each customer's mirrored state, by Stripe customer id: one query."""
    query = (
        select(BillingAccount.stripe_customer_id, Subscription.status, Subscription.cancel_at_period_end)
        .add_columns(BillingProfile.name)
        .outerjoin(Subscription, Subscription.account_id == BillingAccount.id)
        .outerjoin(BillingProfile, BillingProfile.account_id == BillingAccount.id)
    )
    with app.app_context():
        rows = db.session.execute(query).all()
        db.session.rollback()  # a read: nothing kept open between polls
    return {customer: Mirrored(status, cancel, name) for customer, status, cancel, name in rows if customer}


def events_recorded(app: Flask, prefix: str) -> int:
    """How many of the storm's events (ids starting with `prefix`) the site has stored."""
    with app.app_context():
        found = db.session.scalar(
            select(db.func.count()).select_from(StripeEvent).where(StripeEvent.id.startswith(prefix))
        )
        db.session.rollback()
    return found or 0
