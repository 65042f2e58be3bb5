"""The merchant tools' tests, with the same app as the core's: a test key and the
in-process stand-in through the STRIPE_HTTP_CLIENT seam."""

from __future__ import annotations

import pytest

from tests.helpers import core_app


@pytest.fixture
def app(tmp_path, app_settings):
    return core_app(tmp_path, **app_settings)


@pytest.fixture
def standin(app):
    """Stripe, in memory: `standin.requests` shows exactly what the site sent
    (from here on: what it asked at start is cleared)."""
    s = app.extensions["test_standin"]
    s.clear_requests()
    return s
