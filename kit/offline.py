"""Offline mode: with no STRIPE_SECRET_KEY, Stripe is the project's stand-in,
running inside this process. This is the only module that knows the stand-in
exists; the site talks to it through the real Stripe SDK, as to Stripe.
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import delete, or_, select, update
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from billing import mirror, portal_facts
from billing.accounts import User
from billing.catalog import Catalog
from billing.models import BillingAccount, Subscription, db
from billing.schema import upgrade_schema
from billing.settings import LIVE_ORIGIN, WEBHOOK_PATH, Settings
from billing.stripe_api import StripeAPI
from kit import personas
from ops.setup import ensure_catalog
from standin import StandIn

# The key the site uses with the in-process stand-in (no secret: it opens nothing real).
OFFLINE_STRIPE_KEY = "sk_test_offline"
# Where offline customers are made (Settings.stripe_origin): nowhere a real key reaches.
OFFLINE_ORIGIN = "offline"

# The stand-in's API and hosted pages are served by this same process under this path.
STANDIN_PATH = "/_standin"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"
WEBHOOK_DELAY_SECONDS = 1.0

log = logging.getLogger(__name__)


def start(app: Flask, seed_personas: bool, persist: bool | None = None) -> None:
    """Mount the stand-in, point the SDK at it, make sure the catalog exists
    there (as `flask stripe setup` would), and seed the demo user and personas.

    The stand-in keeps its state in the instance folder beside the SQLite
    database, so a demo survives restarts; tests run it in memory unless they
    set OFFLINE_STATE_FILE=True (the app's config: `persist`).
    """
    persist = not app.testing if persist is None else persist
    settings: Settings = app.extensions["settings"]
    # Several server processes (gunicorn workers) start at once: one at a time migrates,
    # sets up the stand-in and seeds, and each later one loads what the first one saved.
    with one_at_a_time(Path(app.instance_path) / "offline-start.lock" if persist else None):
        state_file = Path(app.instance_path) / "standin-state.json" if persist else None
        # Its state file is shared with every other process of this demo (a `flask demo
        # reset` beside the server, gunicorn's workers); one it cannot read is set aside.
        standin = StandIn(public_url=settings.url(STANDIN_PATH), state_file=state_file)
        fresh = standin.state.fresh
        standin_pages = with_headers(standin.wsgi_app, app.extensions["security_headers"])
        app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {STANDIN_PATH: standin_pages})  # type: ignore[method-assign]
        app.extensions["standin"] = standin
        app.jinja_env.globals["demo_account"] = (DEMO_EMAIL, DEMO_PASSWORD)
        # The stand-in signs the events it sends with this secret, as Stripe does with an endpoint's.
        secret = settings.stripe_webhook_secret or "whsec_offline_" + secrets.token_hex(16)
        # Customers made here exist only in this stand-in: the core records that beside each id.
        settings = app.extensions["settings"] = dataclasses.replace(
            settings, stripe_secret_key=OFFLINE_STRIPE_KEY, stripe_webhook_secret=secret, stripe_origin=OFFLINE_ORIGIN
        )
        send_webhooks_to_app(app, standin, secret)

        api = StripeAPI(settings, http_client=standin.http_client(timeout=settings.stripe_timeout))
        catalog: Catalog = app.extensions["catalog"]
        ensure_catalog(api, catalog, return_url=settings.url("/account"))
        api.served_by = "the offline stand-in inside this process (offline mode: no STRIPE_SECRET_KEY)"
        app.extensions["stripe"] = api

        with app.app_context():
            upgrade_schema()
            # The stand-in's price ids (new ones when its state is fresh) replace any the database kept.
            mirror.save_known_prices(api, [price.lookup_key for price in catalog.prices])
            portal_facts.save_known(api)  # the configuration ensure_catalog left in use
            if fresh:
                # A new, empty stand-in knows none of the customers the database
                # remembers: forget them, so they are created again when needed
                # (never a live one: see forget_customer_from_elsewhere).
                not_live = or_(BillingAccount.stripe_origin.is_(None), BillingAccount.stripe_origin != LIVE_ORIGIN)
                forgotten = select(BillingAccount.id).where(not_live)
                db.session.execute(delete(Subscription).where(Subscription.account_id.in_(forgotten)))
                db.session.execute(
                    update(BillingAccount).where(not_live).values(stripe_customer_id=None, stripe_origin=None)
                )
            if db.session.scalar(select(User).where(User.email == DEMO_EMAIL)) is None:
                demo = User(email=DEMO_EMAIL)
                demo.set_password(DEMO_PASSWORD)
                db.session.add(demo)
            db.session.commit()
            if not app.testing and seed_personas:
                # Every persona in the header's menu, ready on the first start (a no-op after).
                for _ in personas.seed(api, catalog):
                    pass
                deliver_now(app)
    if not app.testing:
        keep_delivering_webhooks(standin)


@contextmanager
def one_at_a_time(lock_file: Path | None) -> Iterator[None]:
    """An exclusive lock on `lock_file` across processes (none when it is None)."""
    if lock_file is None:
        yield
        return
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def with_headers(wsgi_app: Any, headers: dict[str, str]) -> Any:
    """The stand-in's answers with the site's security headers, since offline they come
    from the site's own origin."""

    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in response_headers}
            extra = [(name, value) for name, value in headers.items() if name.lower() not in present]
            return start_response(status, response_headers + extra, exc_info)

        return wsgi_app(environ, start)

    return wrapped


def send_webhooks_to_app(app: Flask, standin: StandIn, secret: str) -> None:
    """Deliver the stand-in's events to this app's webhook route, in-process.

    Stripe delivers events a moment after the change, from elsewhere: here a
    background thread sends what is queued every second (keep_delivering_webhooks). Tests keep events
    queued and deliver them when (and how: late, twice, shuffled) they choose.
    """
    client = Client(app)

    def deliver(body: bytes, headers: dict[str, str]) -> int:
        return client.post(WEBHOOK_PATH, data=body, headers=headers).status_code

    standin.configure_webhooks(secret, deliver=deliver, mode="queued")


# Held while webhooks are delivered, and while the demo is reset and seeded again: the
# seed writes the same rows its events refresh, so the two never run at once.
DELIVERING = threading.Lock()


def deliver_now(app: Flask) -> None:
    """Deliver what is queued before this process goes on (or ends): the first start may
    be `flask init-db` (`make run` runs it before the server), and a reset may be
    `flask demo reset`, processes that end before the background thread would send the
    seed's events (the past-due persona's failed payment, whose email the Outbox shows)."""
    standin: StandIn | None = app.extensions.get("standin")
    if standin is not None:
        with DELIVERING:
            standin.deliver_webhooks()


def keep_delivering_webhooks(standin: StandIn) -> None:
    """Send the queued events every second from a background thread, as Stripe would.
    Started once the demo is seeded: the seed writes the same rows its events refresh."""

    def deliver_forever() -> None:
        while True:
            time.sleep(WEBHOOK_DELAY_SECONDS)
            try:
                with DELIVERING:
                    standin.deliver_webhooks()
            except Exception:  # keep delivering; the failed events stay queued
                log.exception("Delivering the stand-in's webhooks failed")

    threading.Thread(target=deliver_forever, name="standin-webhooks", daemon=True).start()
