"""The demo kit's tests: the site in offline mode (no Stripe key), the stand-in
inside it, as `make run` serves it."""

from __future__ import annotations

import pytest

from app import create_app
from tests.helpers import BASE_URL, SECRET_KEY, WEBHOOK_SECRET, database_url


@pytest.fixture
def app(tmp_path, app_settings):
    return create_app(
        {
            "TESTING": True,
            "APP_BASE_URL": BASE_URL,
            "SECRET_KEY": SECRET_KEY,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "QUEUE_URL": "immediate",  # each webhook's job runs before its answer
            "DATABASE_URL": database_url(tmp_path, "test"),
            **app_settings,
        }
    )


@pytest.fixture
def standin(app):
    s = app.extensions["standin"]
    s.clear_requests()
    return s
