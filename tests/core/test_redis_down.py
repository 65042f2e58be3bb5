"""Redis, where the rate limits count (RATELIMIT_STORAGE_URI=redis://), down: every limited
route still answers as it would (its counts kept in this process meanwhile), never a 500."""

from __future__ import annotations

import logging
import socket

import pytest

from billing import links
from tests.core.test_links import press
from tests.helpers import account_of, local_path


def closed_port():
    """A loopback port nothing listens on: Redis stopped."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app_settings():
    return {"RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{closed_port()}/0"}


def test_with_redis_down_the_limited_routes_answer_as_usual_and_say_so_in_the_log(app, auth, client, caplog):
    caplog.set_level(logging.WARNING)
    assert auth.signup().status_code == 303  # POST /signup
    auth.subscribe("starter_monthly")  # GET /checkout/return, back to the account page
    back = client.get("/account/return")
    assert back.status_code == 303 and back.headers["Location"] == "/account"
    assert auth.signout().status_code in (302, 303)
    assert auth.signin().status_code == 303  # POST /signin
    auth.signout()
    with app.app_context():
        path = local_path(links.url(links.make(account_of(auth.email), "update_payment_method")))
    pressed = press(client, path)  # POST /links/<token>
    assert pressed.status_code == 303 and "/_standin/p/session/" in pressed.headers["Location"]
    assert "falling back to in-memory storage" in caplog.text


def test_with_redis_down_the_sign_in_limit_still_counts(auth, client):
    auth.signup()
    auth.signout()
    statuses = [auth.signin(password="wrong password").status_code for _ in range(12)]
    assert 429 in statuses and 500 not in statuses
