"""Fixtures for the app's tests: an app in offline mode (the stand-in in memory),
its test client, the stand-in itself, and `auth` to sign users up and subscribe them.

Offline mode is the real wiring: the app talks to the stand-in through the
Stripe SDK, so `standin.requests` shows exactly what Stripe would receive.
"""

from __future__ import annotations

import pytest
import stripe

from app import create_app
from tests.helpers import BASE_URL, WEBHOOK_SECRET, Auth, database_url


@pytest.fixture(autouse=True)
def fast_sdk_retries(monkeypatch):
    # The SDK waits between retries (0.5 s and up); tests need not.
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.001)
    monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0.001)


@pytest.fixture
def app_settings():
    """Settings a test module adds to the app's (override this fixture)."""
    return {}


@pytest.fixture
def app(tmp_path, app_settings):
    return create_app(
        {
            "TESTING": True,
            "APP_BASE_URL": BASE_URL,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DATABASE_URL": database_url(tmp_path, "test"),
            **app_settings,
        }
    )


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def standin(app):
    s = app.extensions["standin"]
    s.clear_requests()
    return s


@pytest.fixture
def auth(client, app):
    return Auth(client, app)
