"""Stripe slow, failing, refusing or unreachable: every case ends in a message
the customer can act on, never a 500; page views are unaffected; pressing
again once Stripe is back works."""

from __future__ import annotations

import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from app import create_app
from tests.helpers import BASE_URL, TEST_CATALOG, Auth, database_url, local_path

ROOT = Path(__file__).resolve().parents[2]

PORTAL = "/v1/billing_portal/sessions"
TIMEOUT = 0.2  # STRIPE_TIMEOUT here, so a timeout is quick to reach


@pytest.fixture
def app_settings():
    return {"STRIPE_TIMEOUT": str(TIMEOUT)}


def portal_posts(standin):
    return [r for r in standin.requests if r.method == "POST" and r.path == PORTAL]


@pytest.fixture
def subscriber(auth, standin):
    auth.signup()
    auth.subscribe("starter_monthly")
    standin.clear_requests()
    return auth


def flashed(client):
    return client.get("/account").get_data(as_text=True)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_with_the_same_idempotency_key(subscriber, standin, status):
    standin.fail_next("POST", PORTAL, status=status, count=2)
    response = subscriber.post("/account/billing")
    assert response.status_code == 303 and "/_standin/p/session/" in response.headers["Location"]
    attempts = portal_posts(standin)
    assert [r.status for r in attempts] == [status, status, 200]
    assert len({r.headers["Idempotency-Key"] for r in attempts}) == 1


def test_a_stripe_outage_is_a_message_pages_still_work_and_a_retry_succeeds(subscriber, standin, client):
    standin.fail_next("POST", "/v1/", status=503, count=100)
    standin.fail_next("GET", "/v1/", status=503, count=100)
    response = subscriber.post("/account/switch-plan", lookup_key="pro_monthly")
    assert response.status_code == 303 and response.headers["Location"] == "/"  # back to the pricing page
    assert len(portal_posts(standin)) == 3  # the first try and 2 retries
    page = client.get("/").get_data(as_text=True)
    assert "Stripe had a problem handling this request. Nothing was changed; please try again." in page
    for path in ("/", "/pricing?interval=year", "/account"):
        assert client.get(path).status_code == 200  # no Stripe call, so no Stripe failure
    assert client.get("/account/return").status_code == 303  # the refresh fails softly too
    assert "We could not refresh your subscription" in flashed(client)

    standin.recover()  # Stripe is back
    again = subscriber.post("/account/switch-plan", lookup_key="pro_monthly")
    assert again.status_code == 303 and "/_standin/p/session/" in again.headers["Location"]


@pytest.mark.parametrize("should_retry, attempts", [(None, 1), ("true", 2), ("false", 1)])
def test_429_is_retried_only_when_stripe_says_so(subscriber, standin, client, should_retry, attempts):
    headers = {"Stripe-Should-Retry": should_retry} if should_retry else None
    standin.fail_next(
        "POST", PORTAL, status=429, error_type="invalid_request_error", code="rate_limit", headers=headers
    )
    response = subscriber.post("/account/billing")
    assert len(portal_posts(standin)) == attempts
    if attempts == 1:
        assert response.headers["Location"] == "/account"
        assert "Stripe is busy right now. Nothing was changed; please try again in a moment." in flashed(client)
    else:
        assert "/_standin/p/session/" in response.headers["Location"]


def test_a_slow_stripe_only_slows_the_button(subscriber, standin, client):
    standin.latency = TIMEOUT / 2
    response = subscriber.post("/account/billing")
    assert response.status_code == 303 and "/_standin/p/session/" in response.headers["Location"]
    standin.clear_requests()
    assert client.get("/account").status_code == 200 and standin.requests == []


# --- a Stripe that cannot be reached: refused, reset, or silent past the timeout ----------


def portal_sessions_made(standin):
    return [o for o in standin.state.all("billing_portal.session")]


@pytest.mark.parametrize("fault", ["refused", "reset", "timeout"])
def test_a_dropped_connection_is_retried_and_stripe_acts_once(subscriber, standin, fault):
    standin.fail_next("POST", PORTAL, fault=fault, count=2)
    response = subscriber.post("/account/billing")
    assert response.status_code == 303 and "/_standin/p/session/" in response.headers["Location"]
    attempts = portal_posts(standin)  # what reached Stripe (a refused connection never does)
    assert len(attempts) == (1 if fault == "refused" else 3)
    assert len({r.headers["Idempotency-Key"] for r in attempts}) == 1
    assert len(portal_sessions_made(standin)) == 1  # the retries were replays, not new sessions


@pytest.mark.parametrize("fault", ["refused", "reset", "timeout"])
def test_stripe_unreachable_on_every_attempt_is_a_message_and_a_retry_succeeds(subscriber, standin, client, fault):
    standin.fail_next("POST", PORTAL, fault=fault, count=3)
    response = subscriber.post("/account/billing")
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert "We could not reach Stripe. Nothing was changed; please try again in a moment." in flashed(client)
    assert client.get("/").status_code == 200
    standin.recover()
    again = subscriber.post("/account/billing")
    assert "/_standin/p/session/" in again.headers["Location"]


def test_an_answer_slower_than_stripe_timeout_is_a_timeout(subscriber, standin, client):
    standin.latency = TIMEOUT * 2
    response = subscriber.post("/account/billing")
    assert response.headers["Location"] == "/account"
    assert "We could not reach Stripe" in flashed(client)
    assert len(portal_posts(standin)) == 3  # the first try and 2 retries, each given up on


def test_a_request_that_spent_its_time_on_stripe_starts_no_more_calls(app, auth, standin, client):
    auth.signup()  # no Stripe customer yet: Checkout first creates one, then the session
    app.extensions["stripe"].request_seconds = TIMEOUT / 4
    standin.latency = TIMEOUT / 2  # slow, not timed out: the customer is created
    standin.clear_requests()
    response = auth.post("/checkout", lookup_key="pro_monthly")
    assert response.status_code == 303 and "/_standin/" not in response.headers["Location"]
    assert [r.path for r in standin.requests if r.method == "POST"] == ["/v1/customers"]
    page = client.get(local_path(response.headers["Location"])).get_data(as_text=True)
    assert "Stripe is answering too slowly right now. Please try again in a moment." in page
    time.sleep(TIMEOUT / 4)
    app.extensions["stripe"].current_subscription(auth.user().customer)  # the limit ended with the request
    standin.recover()
    again = auth.post("/checkout", lookup_key="pro_monthly")
    assert "/_standin/c/pay/" in again.headers["Location"]


def test_the_gunicorn_worker_timeout_outlasts_the_slowest_request(monkeypatch):
    import runpy

    from billing.stripe_api import slowest_request_seconds

    for stripe_timeout in ("10", "30", "2.5"):
        monkeypatch.setenv("STRIPE_TIMEOUT", stripe_timeout)
        conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
        assert conf["timeout"] > slowest_request_seconds(float(stripe_timeout)), stripe_timeout
    monkeypatch.setenv("PORT", "8123")
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["bind"] == "0.0.0.0:8123"


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BadServer:
    """A TCP server on loopback that resets every connection, or never answers."""

    def __init__(self, behaviour):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.behaviour = behaviour
        self.held = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.behaviour == "reset":
                conn.recv(65536)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()  # RST instead of an answer
            else:
                self.held.append(conn)  # read nothing, answer nothing

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.mark.parametrize("fault", ["refused", "reset", "timeout"])
def test_an_unreachable_stripe_is_a_message_never_a_500(tmp_path, fault):
    server = None if fault == "refused" else BadServer(fault)
    port = closed_port() if server is None else server.port
    try:
        app = create_app(
            {
                "TESTING": True,
                "STRIPE_SECRET_KEY": "sk_test_unreachable",
                "STRIPE_API_BASE": f"http://127.0.0.1:{port}",
                "STRIPE_TIMEOUT": "0.3",
                "APP_BASE_URL": BASE_URL,
                "SECRET_KEY": "test-secret-key-not-for-production",
                "DATABASE_URL": database_url(tmp_path),
                "CATALOG_PATH": TEST_CATALOG,
            }
        )
        app.test_cli_runner().invoke(args=["init-db"])
        client = app.test_client()
        auth = Auth(client, app)
        assert auth.signup().status_code == 303  # signing up needs no Stripe
        assert client.get("/").status_code == 200 and client.get("/account").status_code == 200
        response = auth.post("/checkout", lookup_key="pro_monthly")
        assert response.status_code == 303
        page = client.get(local_path(response.headers["Location"])).get_data(as_text=True)
        assert "We could not reach Stripe. Nothing was changed; please try again in a moment." in page
    finally:
        if server is not None:
            server.close()


def test_a_webhook_saving_the_new_card_first_does_not_fail_the_way_back(app, auth, client, monkeypatch):
    # Checkout's events and the customer's way back both save the first card. The worker's
    # refresh commits its card while the way back waits on Stripe: the way back then
    # writes over that row (both writes take the account's read stamp first, so they
    # cannot both insert at once).
    from billing import mirror
    from billing.models import BillingProfile, db, utcnow

    auth.signup()
    paid = client.post(local_path(auth.post("/checkout", lookup_key="pro_monthly").headers["Location"]))
    written_by_the_way_back = mirror.write

    def webhook_first(account, *args, **kwargs):
        with db.engine.begin() as webhook:
            webhook.execute(db.insert(BillingProfile).values(account_id=account.id, updated_at=utcnow()))
        return written_by_the_way_back(account, *args, **kwargs)

    monkeypatch.setattr(mirror, "write", webhook_first)
    back = client.get(local_path(paid.headers["Location"]))
    assert back.status_code == 303 and back.headers["Location"] == "/account"
    assert client.get("/account").status_code == 200
