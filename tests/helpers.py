"""Helpers for the app's tests: sign in, press buttons, follow Stripe's redirects."""

from __future__ import annotations

import re
from types import SimpleNamespace
from urllib.parse import urlsplit

import os
import uuid

import sqlalchemy as sa

from billing.models import User, db

BASE_URL = "http://localhost"
# The offline app's STRIPE_WEBHOOK_SECRET in tests (the stand-in signs its events with it).
WEBHOOK_SECRET = "whsec_test_webhooks_0123456789"
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
            data={"csrf_token": csrf_token(self.client, "/signup"), "email": email, "password": password, "confirm": password},
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
        """The user's row and subscription mirror, as plain values (default: who is signed in)."""
        email = email or self.email
        with self.app.app_context():
            user = db.session.scalar(db.select(User).where(User.email == email))
            sub = user.subscription
            return SimpleNamespace(
                id=user.id,
                customer=user.stripe_customer_id,
                subscription=None
                if sub is None
                else SimpleNamespace(**{c.key: getattr(sub, c.key) for c in sub.__table__.columns}),
            )


