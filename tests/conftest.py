"""Fixtures shared by every part's tests.

`app` is the site as the core's and ops' tests run it: a test key, and the Stripe SDK
pointed at the in-process stand-in through the STRIPE_HTTP_CLIENT seam; never offline
mode or demo personas, so these tests pass in a fork that deleted kit/. The kit's tests
override `app` with offline mode (tests/kit/conftest.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import stripe

from app import create_app
from billing.schema import upgrade_schema
from ops.setup import ensure_catalog
from tests.core import header_signin
from tests.helpers import LIVE_KEY, TEST_CATALOG, Auth, core_app, database_url, free_port

# Each sign-in the tests run on: what create_app plugs in (None: its default), and the Auth helper.
SIGN_INS = {"password": (None, Auth), "header": (header_signin.init_app, header_signin.HeaderAuth)}


@pytest.fixture(autouse=True)
def queue_threads_end_with_their_test(monkeypatch):
    """A site without a queue server works its queue in threads (billing/queue.py), started
    by its first request; in a test process they would outlive the test (and its database),
    so each test stops those it started."""
    from billing import queue

    started = []
    start = queue._InProcessConsumer.start

    def recorded(consumer):
        started.append(consumer)
        start(consumer)

    monkeypatch.setattr(queue._InProcessConsumer, "start", recorded)
    yield
    for consumer in started:
        consumer.stop(graceful=True)


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
def sign_in():
    """Who signs people in: "password" (billing/accounts.py) or "header" (an SSO proxy's
    header, tests/core/header_signin.py). A module parametrizes it to run on both."""
    return "password"


@pytest.fixture
def app(tmp_path, app_settings, sign_in):
    return core_app(tmp_path, sign_in=SIGN_INS[sign_in][0], **app_settings)


@pytest.fixture
def standin(app):
    """Stripe, in memory: `standin.requests` shows exactly what the site sent
    (from here on: what it asked at start is cleared)."""
    s = app.extensions["test_standin"]
    s.clear_requests()
    return s


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth(client, app, sign_in):
    return SIGN_INS[sign_in][1](client, app)


@pytest.fixture
def standin_url():
    """The stand-in as its own server on a loopback port (`python -m standin`)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "standin", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.strip() == f"Stripe stand-in listening on http://127.0.0.1:{port}", process.stderr.read()
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def live_app(tmp_path):
    """The site against Stripe's test mode, its catalog set up there (idempotently)."""
    app = create_app(
        {
            "TESTING": True,
            "STRIPE_SECRET_KEY": LIVE_KEY,
            "APP_BASE_URL": "http://127.0.0.1:5000",
            "SECRET_KEY": "live-test-secret-key-0123456789",
            "DATABASE_URL": database_url(tmp_path, "live"),
            "CATALOG_PATH": TEST_CATALOG,
        }
    )
    with app.app_context():
        upgrade_schema()
        ensure_catalog(app.extensions["stripe"], app.extensions["catalog"])
    return app
