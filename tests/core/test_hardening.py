"""Security headers, cookies, sign-in rate limiting, and secrets that never
reach a page or a log line."""

from __future__ import annotations

import logging
import re

import pytest

from standin import StandIn
from tests.helpers import Auth, core_app, csrf_token, local_path

PAGES = ["/", "/pricing?interval=year", "/signin", "/signup", "/no-such-page"]


def test_every_page_has_the_security_headers(client, auth):
    auth.signup()
    for path in PAGES + ["/account"]:
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert "form-action 'self' https://billing.stripe.com https://checkout.stripe.com" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert response.headers["X-Frame-Options"] == "DENY"


def assert_security_headers(response):
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_error_answers_are_pages_with_the_security_headers_too(app, client, auth):
    auth.signup()
    answers = {
        "404": client.get("/no-such-page"),
        "405": client.delete("/"),
        "400 csrf": client.post("/account/billing", data={"csrf_token": "forged"}),
        "413": client.post("/signin", data={"email": "a" * 100_000}),
        "400 host": client.get("/", headers={"Host": "a" * 64 + ".example"}),
    }
    assert {name: r.status_code for name, r in answers.items()} == {
        "404": 404,
        "405": 405,
        "400 csrf": 400,
        "413": 413,
        "400 host": 400,
    }
    assert set(answers["405"].headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    for name, response in answers.items():
        assert_security_headers(response)
        assert response.mimetype == "text/html" and "<h1>" in response.get_data(as_text=True), name


def test_a_database_outage_is_a_503_page_and_the_site_recovers(app, client, auth):
    from sqlalchemy import text

    from billing.models import db

    auth.signup()
    with app.app_context():
        db.session.execute(text("ALTER TABLE users RENAME TO users_away"))
        db.session.commit()
    for path in ("/", "/account"):
        response = client.get(path)
        assert response.status_code == 503 and response.headers["Retry-After"] == "30"
        assert "reach our database right now, so nothing was saved" in response.get_data(as_text=True)
        assert_security_headers(response)
    with app.app_context():
        db.session.execute(text("ALTER TABLE users_away RENAME TO users"))
        db.session.commit()
    assert client.get("/account").status_code == 200


def test_a_database_failing_as_the_request_ends_is_a_503_page_not_a_bare_500(app, client, auth, monkeypatch):
    # The view has answered; ending its transaction fails (a connection PostgreSQL dropped while
    # the view waited on Stripe: tests/scale/test_connection_killed.py; here, on any database).
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    auth.signup()
    auth.subscribe("starter_monthly")
    token = csrf_token(client, "/")
    close = Session.close

    def fails_once(self):
        monkeypatch.setattr(Session, "close", close)
        raise OperationalError("ROLLBACK", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(Session, "close", fails_once)
    response = client.post("/account/billing", data={"csrf_token": token})
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert "reach our database right now" in response.get_data(as_text=True)
    assert_security_headers(response)
    assert "/_standin/p/session/" in auth.post("/account/billing").headers["Location"]


def test_pages_have_no_inline_script_or_style(client, auth):
    auth.signup()
    auth.subscribe("pro_monthly")
    for path in PAGES + ["/account"]:
        html = client.get(path).get_data(as_text=True)
        assert "<script" not in html and "style=" not in html and not re.search(r"\son\w+=", html), path


def test_form_action_allows_a_stand_in_on_its_own_port(tmp_path):
    app = core_app(tmp_path, STRIPE_API_BASE="http://127.0.0.1:12111")
    csp = app.test_client().get("/").headers["Content-Security-Policy"]
    assert "http://127.0.0.1:12111" in csp


@pytest.mark.parametrize("base, secure", [("http://127.0.0.1:5000", False), ("https://shop.example", True)])
def test_session_cookie_flags(tmp_path, base, secure):
    app = core_app(tmp_path, APP_BASE_URL=base)
    client = app.test_client()
    cookie = client.get("/signin").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("Secure" in cookie) is secure


def test_sign_in_attempts_are_rate_limited(client, auth):
    auth.signup()
    auth.signout()
    token = csrf_token(client)
    statuses = [
        client.post(
            "/signin", data={"csrf_token": token, "email": "ada@example.com", "password": "wrong guess"}
        ).status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [400] * 10 and statuses[10] == 429
    page = client.post("/signin", data={"csrf_token": token, "email": "ada@example.com", "password": "correct horse"})
    assert page.status_code == 429 and "Too many attempts" in page.get_data(as_text=True)
    assert client.get("/signin").status_code == 200  # reading the page is not limited


def wrong_guess(client, token, email="ada@example.com", address="192.0.2.1", forwarded=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post(
        "/signin",
        data={"csrf_token": token, "email": email, "password": "wrong guess"},
        environ_base={"REMOTE_ADDR": address},
        headers=headers,
    ).status_code


def test_one_account_is_protected_from_guesses_spread_over_many_addresses(client, auth):
    auth.signup()
    auth.signout()
    token = csrf_token(client)
    statuses = [wrong_guess(client, token, address=f"192.0.2.{n % 7}") for n in range(21)]
    assert statuses[:20] == [400] * 20 and statuses[20] == 429
    assert wrong_guess(client, token, email="ADA@example.com ", address="198.51.100.9") == 429
    # Another account, from an address that took part, can still be signed in to.
    assert wrong_guess(client, token, email="bob@example.com", address="192.0.2.1") == 400


def test_forwarded_addresses_are_ignored_unless_a_proxy_is_trusted(tmp_path):
    def app_with(proxies):
        return core_app(
            tmp_path, name=f"proxies{proxies}", APP_BASE_URL="https://shop.example", TRUSTED_PROXIES=str(proxies)
        )

    # No trusted proxy: a client making up X-Forwarded-For still counts as one address.
    client = app_with(0).test_client()
    token = csrf_token(client)
    statuses = [wrong_guess(client, token, email=f"u{n}@example.com", forwarded=f"203.0.113.{n}") for n in range(11)]
    assert statuses[-1] == 429
    # Behind one proxy: each client is counted by the address the proxy saw.
    client = app_with(1).test_client()
    token = csrf_token(client)
    statuses = [wrong_guess(client, token, email=f"u{n}@example.com", forwarded=f"203.0.113.{n}") for n in range(11)]
    assert statuses == [400] * 11
    statuses = [wrong_guess(client, token, email=f"v{n}@example.com", forwarded="203.0.113.50") for n in range(11)]
    assert statuses[-1] == 429


def test_session_urls_never_reach_the_log_even_at_stripe_log_debug(tmp_path, caplog, capsys, monkeypatch):
    import stripe

    # STRIPE_LOG=debug, as the SDK read it at import (it prints each line to stderr itself):
    # the answers' bodies are logged, with each session's URL in them.
    monkeypatch.setattr(stripe, "log", None)
    monkeypatch.setattr(stripe._util, "STRIPE_LOG", "debug")
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="stripe")
    key = "sk_test_" + "NEVERSHOWN" * 3
    app = core_app(tmp_path, STRIPE_SECRET_KEY=key)
    client = app.test_client()
    auth = Auth(client, app)
    auth.signup()
    checkout = auth.post("/checkout", lookup_key="pro_monthly").headers["Location"]
    paid = client.post(local_path(checkout))
    client.get(local_path(paid.headers["Location"]))
    portal = auth.post("/account/billing").headers["Location"]
    assert "/c/pay/cs_" in checkout and "/p/session/" in portal
    logged = caplog.text + capsys.readouterr().err
    assert "API response body" in logged and "/c/pay/[redacted]" in logged and "/p/session/[redacted]" in logged
    for secret in (checkout, portal, local_path(checkout), local_path(portal), key):
        assert secret not in logged


def test_the_stripe_key_and_webhook_secret_never_reach_a_page_or_a_log(tmp_path, caplog):
    # Made up, and built here so no secret scanner takes it for a committed key.
    key, whsec = "sk_test_" + "NEVERSHOWN" * 3, "whsec_" + "NEVERSHOWN" * 2
    stand_in = StandIn(public_url="http://standin.test")
    app = core_app(tmp_path, stand_in, STRIPE_SECRET_KEY=key, STRIPE_WEBHOOK_SECRET=whsec)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("stripe").setLevel(logging.DEBUG)
    runner = app.test_cli_runner()
    outputs = [
        runner.invoke(args=[*command]).output for command in (["init-db"], ["stripe", "setup"], ["stripe", "doctor"])
    ]
    client = app.test_client()
    auth = Auth(client, app)
    pages = [auth.signup().get_data(as_text=True)]
    pages += [client.get(path).get_data(as_text=True) for path in ["/", "/account", "/pricing?interval=year"]]
    pages.append(auth.post("/checkout", lookup_key="pro_monthly").get_data(as_text=True))
    stand_in.fail_next(
        "POST",
        "/v1/checkout/sessions",
        status=401,
        error_type="invalid_request_error",
        message=f"Invalid API Key provided: {key}",
    )
    pages.append(
        client.get(auth.post("/checkout", lookup_key="pro_monthly").headers["Location"]).get_data(as_text=True)
    )
    pages.append(
        client.post("/stripe/webhook", data="{}", headers={"Stripe-Signature": "t=1,v1=00"}).get_data(as_text=True)
    )
    assert any("Stripe refused the API key" in r.getMessage() for r in caplog.records), "the failure was logged"
    text = "\n".join(pages + outputs + [record.getMessage() for record in caplog.records] + [caplog.text])
    for secret in (key, whsec, key[8:], whsec[6:]):
        assert secret not in text


def test_the_footer_says_test_mode_with_a_test_key(client):
    assert "· test mode." in client.get("/").get_data(as_text=True)
