"""The site as the bench serves it: `create_app()` as a merchant runs it, plus two bare
views that do only what every request of their kind must; its customers, written
straight to the database; and one signed-in visitor's Cookie header."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, session
from flask_login import login_user
from flask_wtf.csrf import generate_csrf
from werkzeug.security import generate_password_hash

from billing import current
from billing.accounts import User
from billing.models import BillingAccount, BillingProfile, Subscription, db
from billing.signin import login_required

# Where the bare views are, beside the site's own pages.
BARE, BARE_SIGNED_IN = "/bench/bare", "/bench/bare-signed-in"
SECRET_KEY = "bench-secret-key-0123456789abcdef"
# Every request of the bench comes from here, with this User-Agent: Flask-Login ties a
# session to both ("basic" session protection), so each visitor's cookie is made for them.
ADDRESS, USER_AGENT = "127.0.0.1", "ops.bench"
# The pages as a merchant serves them: without the demo's persona menu and API-call
# panels (offline mode is only how the bench gets a Stripe without a key).
AS_A_MERCHANT_SERVES_THEM = {"DEMO_PERSONAS": "off", "SHOW_API_CALLS": "off"}
CARD: dict[str, Any] = {"card_brand": "visa", "card_last4": "4242", "card_exp_month": 12, "card_exp_year": 2030}


def environment(instance: Path, port: int) -> dict[str, str]:
    """What the served site reads: offline mode (no Stripe key: the stand-in in each
    worker) in a throwaway instance folder, the pages as a merchant serves them."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "STRIPE_SECRET_KEY": "",  # set, so that no .env can fill it in
        "SECRET_KEY": SECRET_KEY,
        "APP_BASE_URL": f"http://127.0.0.1:{port}",
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'bench.sqlite'}",
        **AS_A_MERCHANT_SERVES_THEM,
    }


def served_app() -> Flask:
    """For gunicorn: the site from the environment (see `environment`), with the bare views."""
    return with_bare_views(_create_app(None))


def in_process_app(instance: Path, database_url: str) -> Flask:
    """The same site in this process: offline mode with its stand-in in memory (TESTING:
    no state on disk, no webhook thread), on the served site's database."""
    config = {"TESTING": True, "INSTANCE_PATH": str(instance), "DATABASE_URL": database_url}
    return with_bare_views(_create_app({**config, "SECRET_KEY": SECRET_KEY, **AS_A_MERCHANT_SERVES_THEM}))


def _create_app(config: dict[str, Any] | None) -> Flask:
    from app import create_app  # only here: importing the site starts nothing

    return create_app(config)


def with_bare_views(app: Flask) -> Flask:
    """The floors, under the same app, hooks and extensions as the pages: for the pricing
    page a view that does nothing; for the account page one that opens the session and
    loads the signed-in user (Flask-Login) and their billing account, as every signed-in page does. And the pages as
    a merchant serves them: without what the demo kit adds to them (its offline banner)."""
    app.extensions["slots"] = {}
    app.add_url_rule(BARE, "bench_bare", lambda: "bare")
    app.add_url_rule(
        BARE_SIGNED_IN, "bench_bare_signed_in", login_required(lambda: f"user {current.account().owner_id}")
    )
    return app


def add_customers(app: Flask, count: int) -> list[User]:
    """`count` subscribed customers, as the mirror holds them after Checkout (a plan of the
    catalog's each, in turn; a card; an address), written in one transaction: no Stripe."""
    catalog, settings = app.extensions["catalog"], app.extensions["settings"]
    password_hash = generate_password_hash("bench-password-0123")  # one hash: they never sign in by form
    renews = datetime.now(UTC) + timedelta(days=30)
    users = []
    with app.app_context():
        first = db.session.scalar(db.select(db.func.count()).select_from(User)) or 0
        for n in range(first, first + count):
            price = catalog.prices[n % len(catalog.prices)]
            product = catalog.product(price.product_id)
            user = User(email=f"visitor{n}@bench.example", password_hash=password_hash)
            db.session.add(user)
            db.session.flush()  # its id names its billing account
            account = BillingAccount(owner_id=str(user.id), email=user.email)
            account.use_customer(f"cus_bench{n}", settings.stripe_origin)
            account.subscription = Subscription(
                stripe_subscription_id=f"sub_bench{n}",
                status="active",
                item_id=f"si_bench{n}",
                price_id=f"price_bench_{price.lookup_key}",
                lookup_key=price.lookup_key,
                interval=price.interval,
                amount=price.amount,
                currency=price.currency,
                quantity=product.seats.min if product and product.seats else 1,
                current_period_end=renews,
            )
            address = {"line1": f"{n} Bench Street", "city": "Lyon", "postal_code": "69001", "country": "FR"}
            account.profile = BillingProfile(name=f"Visitor {n}", email=user.email, address=address, **CARD)
            db.session.add(account)
            users.append(user)
        db.session.commit()
        for user in users:
            db.session.refresh(user)
        db.session.expunge_all()
    return users


def visitor_cookie(app: Flask, user: User) -> str:
    """The Cookie header of a browser signed in as `user`: what Flask-Login's `login_user`
    leaves in the session, with the CSRF token the sign-in form left, signed as the app signs it."""
    with app.test_request_context(environ_base={"REMOTE_ADDR": ADDRESS, "HTTP_USER_AGENT": USER_AGENT}):
        generate_csrf()
        login_user(user)
        value = app.session_interface.get_signing_serializer(app).dumps(dict(session))  # type: ignore[attr-defined]
    return f"{app.config['SESSION_COOKIE_NAME']}={value}"
