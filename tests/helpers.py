"""Helpers for the app's tests: a database per test, a Stripe stand-in set up as
`flask stripe setup` leaves an account, sign in, press buttons, follow Stripe's
redirects."""

from __future__ import annotations

import json
import os
import re
import socket
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from app import create_app
from billing import portal_facts
from billing.buttons import PORTAL_BUTTONS
from billing.catalog import Catalog, load_catalog
from billing.models import BillingAccount, db
from billing.schema import upgrade_schema
from billing.settings import WEBHOOK_PATH, load_settings
from billing.stripe_api import StripeAPI
from ops.setup import ensure_catalog
from standin import StandIn

# The project folder.
ROOT = Path(__file__).resolve().parent.parent
# The tests' own plans (CATALOG_PATH, relative to the project folder), so that a fork's
# billing/catalog.toml fails none of them. The demo kit's tests run on the demo's.
TEST_CATALOG = "tests/catalog.toml"
DEMO_CATALOG = "billing/catalog.toml"
BASE_URL = "http://localhost"
# The test app's STRIPE_WEBHOOK_SECRET (the stand-in signs its events with it).
WEBHOOK_SECRET = "whsec_test_webhooks_0123456789"
# The test key the core tests use; the stand-in takes any sk_test_ key.
TEST_KEY = "sk_test_core_tests"
# Where the tests' stand-in serves Checkout and the portal: beside the site, under this path.
STANDIN_PATH = "/_standin"
SECRET_KEY = "test-secret-key-not-for-production"
# The live tests (-m live) run against Stripe's test mode, and only with a test key.
LIVE_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
LIVE = pytest.mark.skipif(not LIVE_KEY.startswith("sk_test_"), reason="needs STRIPE_SECRET_KEY=sk_test_...")
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


# Set (by .ci/run) to run the whole suite on PostgreSQL instead of SQLite files.
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
_schemas: dict[str, str] = {}


def database_url(tmp_path, name="app"):
    """A fresh, empty database for one test: a SQLite file in its tmp_path, or,
    on PostgreSQL, a new schema (the same one again for the same tmp_path and name)."""
    if not TEST_DATABASE_URL:
        return f"sqlite:///{tmp_path / (name + '.sqlite')}"
    key = str(tmp_path / name)
    if key not in _schemas:
        schema = "test_" + uuid.uuid4().hex[:16]
        engine = sa.create_engine(TEST_DATABASE_URL)
        with engine.begin() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        engine.dispose()
        _schemas[key] = schema
    separator = "&" if "?" in TEST_DATABASE_URL else "?"
    return f"{TEST_DATABASE_URL}{separator}options=-csearch_path%3D{_schemas[key]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fixture_catalog() -> Catalog:
    """The tests' catalog (TEST_CATALOG), for tests of the rules without an app."""
    return load_catalog(PORTAL_BUTTONS, ROOT / TEST_CATALOG)


def prepared_standin(public_url: str = BASE_URL + STANDIN_PATH, catalog: str = TEST_CATALOG) -> StandIn:
    """A Stripe stand-in in memory, its account set up as `flask stripe setup` leaves it
    for the catalog at `catalog` (a CATALOG_PATH)."""
    standin = StandIn(public_url=public_url)
    settings = load_settings({"STRIPE_SECRET_KEY": TEST_KEY, "SECRET_KEY": SECRET_KEY, "CATALOG_PATH": catalog})
    ensure_catalog(
        StripeAPI(settings, http_client=standin.http_client()),
        load_catalog(PORTAL_BUTTONS, settings.catalog_path),
        BASE_URL + "/account",
    )
    standin.clear_requests()
    return standin


def core_app(tmp_path, standin: StandIn | None = None, name: str = "app", sign_in=None, **settings):
    """The site with a test key, its Stripe SDK pointed at `standin` through the
    STRIPE_HTTP_CLIENT seam (in-process, no socket), as a fork without the demo kit
    runs it (where the kit is present, its panels and persona menu are off unless asked
    for), on the tests' catalog unless CATALOG_PATH says otherwise. The stand-in's hosted
    pages answer under /_standin, as a browser would reach Stripe's, and its webhooks
    queue until `standin.deliver_webhooks()`. `sign_in`: another sign-in than
    billing/accounts.py (create_app's)."""
    catalog = settings.setdefault("CATALOG_PATH", TEST_CATALOG)
    standin = standin or prepared_standin(catalog=catalog)
    timeout = float(settings.get("STRIPE_TIMEOUT", 10))
    app = create_app(
        {
            "TESTING": True,
            "APP_BASE_URL": BASE_URL,
            "SECRET_KEY": SECRET_KEY,
            "STRIPE_SECRET_KEY": TEST_KEY,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "QUEUE_URL": "immediate",  # each webhook's job runs before its answer
            "DATABASE_URL": database_url(tmp_path, name),
            "STRIPE_HTTP_CLIENT": standin.http_client(timeout=timeout),
            "SHOW_API_CALLS": "off",
            "DEMO_PERSONAS": "off",
            **settings,
        },
        **({"sign_in": sign_in} if sign_in else {}),
    )
    with app.app_context():
        upgrade_schema()
        # What the site stores at start once `init-db` has made the tables (here they came after).
        portal_facts.save_known(app.extensions["stripe"])
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {STANDIN_PATH: standin.wsgi_app})
    webhooks = Client(app)
    standin.configure_webhooks(
        WEBHOOK_SECRET,
        deliver=lambda body, headers: webhooks.post(WEBHOOK_PATH, data=body, headers=headers).status_code,
        mode="queued",
    )
    app.extensions["test_standin"] = standin
    return app


def demo_app(tmp_path, standin: StandIn | None = None, name: str = "app", **settings):
    """`core_app` on the demo's catalog: for the demo kit's tests (a test key, not offline mode)."""
    return core_app(tmp_path, standin, name, CATALOG_PATH=DEMO_CATALOG, **settings)


def csrf_token(client, path="/signin"):
    """A CSRF token for this client's session, read from a page as a browser would."""
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def local_path(url):
    """`http://localhost/_standin/p/session/..` -> the path the test client can follow."""
    assert url.startswith((BASE_URL, "/")), url
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def follow(client, response):
    """Follow redirects as a browser would, through the stand-in's pages and back."""
    while response.status_code in (302, 303):
        response = client.get(local_path(response.headers["Location"]))
    return response


class Auth:
    def __init__(self, client, app):
        self.client = client
        self.app = app
        self.email = None  # who is signed in

    def signup(self, email="ada@example.com", password="correct horse", query=""):
        self.email = email
        return self.client.post(
            "/signup" + query,
            data={
                "csrf_token": csrf_token(self.client, "/signup"),
                "email": email,
                "password": password,
                "confirm": password,
            },
        )

    def signin(self, email="ada@example.com", password="correct horse"):
        self.email = email
        return self.client.post(
            "/signin", data={"csrf_token": csrf_token(self.client), "email": email, "password": password}
        )

    def signout(self):
        return self.client.post("/signout", data={"csrf_token": csrf_token(self.client, "/")})

    def post(self, path, **data):
        """A button press: the form's fields plus this session's CSRF token."""
        return self.client.post(path, data={"csrf_token": csrf_token(self.client, "/"), **data})

    def subscribe(self, lookup_key="starter_monthly"):
        """Checkout as a customer would: press the button, pay on the hosted page, come back."""
        response = self.post("/checkout", lookup_key=lookup_key)
        assert response.status_code == 303, response.get_data(as_text=True)
        paid = self.client.post(local_path(response.headers["Location"]))
        assert paid.status_code == 303
        back = self.client.get(local_path(paid.headers["Location"]))
        assert back.status_code == 303 and back.headers["Location"] == "/account"
        return self.user()

    def user(self, email=None):
        """The billing account and subscription mirror, as plain values (default: who is signed in)."""
        email = email or self.email
        with self.app.app_context():
            account = account_of(email)
            sub = account.subscription
            return SimpleNamespace(
                id=account.id,
                owner=account.owner_id,
                customer=account.stripe_customer_id,
                subscription=None
                if sub is None
                else SimpleNamespace(**{c.key: getattr(sub, c.key) for c in sub.__table__.columns}),
            )


def account_of(email):
    """The billing account with this email (in an app context), made as the site makes it
    on first need for a user of its sign-in who has none yet (signed up, no page seen)."""
    from billing import current
    from billing.accounts import User

    found = db.session.scalar(db.select(BillingAccount).where(BillingAccount.email == email))
    if found is None:
        user = db.session.scalar(db.select(User).where(User.email == email))
        found = current.account_of(user) if user is not None else None
    return found


def session_token(app, email):
    """What a session cookie names to sign this user in (billing.accounts.User.get_id)."""
    from billing.accounts import User

    with app.app_context():
        return db.session.scalar(db.select(User.session_token).where(User.email == email))


def event_body(event_type, obj, event_id="evt_test_1", previous=None):
    """A Stripe event's JSON, as Stripe posts it to a webhook endpoint (sign it to send it)."""
    data = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
            "data": data,
        }
    )
