"""The core on another sign-in than billing/accounts.py: an SSO proxy's header
(tests/core/header_signin.py). test_buttons.py runs every button and page test on it too;
here, what only a header sign-in can do: two people behind one cookie jar, and a header
from anyone but the proxy."""

from __future__ import annotations

import pytest

from tests.core.header_signin import HEADER
from tests.helpers import csrf_token


@pytest.fixture
def sign_in():
    return "header"


def as_(email):
    return {HEADER: email}


def portal_customers(standin):
    return [r.params["customer"] for r in standin.requests if r.path == "/v1/billing_portal/sessions"]


def test_two_people_behind_one_cookie_jar_each_see_and_press_only_their_own(app, client, auth, standin):
    auth.signup("alice@corp.example")
    alice = auth.subscribe("pro_monthly")
    auth.signup("bob@corp.example")
    bob = auth.subscribe("starter_monthly")
    # From here the client names no one itself: each request says who (one session, one CSRF token).
    token = csrf_token(client, "/")
    auth.signout()
    assert alice.customer != bob.customer
    standin.clear_requests()
    for email, plan, other in (("alice@corp.example", "Pro", "bob@"), ("bob@corp.example", "Starter", "alice@")):
        page = client.get("/account", headers=as_(email)).get_data(as_text=True)
        assert f"Signed in as {email}" in page and plan in page and other not in page
    # The same cookie with each person's header.
    for email, account in (("bob@corp.example", bob), ("alice@corp.example", alice), ("bob@corp.example", bob)):
        response = client.post("/account/billing", data={"csrf_token": token}, headers=as_(email))
        assert response.status_code == 303
        assert portal_customers(standin)[-1] == account.customer
    assert portal_customers(standin) == [bob.customer, alice.customer, bob.customer]
    # Alice leaves for Stripe; Bob comes back on the same cookie: what the session kept of
    # Alice's page is not compared with Bob's ("You are now on Starter" would be news to him).
    assert (
        client.post("/account/cancel", data={"csrf_token": token}, headers=as_("alice@corp.example")).status_code == 303
    )
    assert client.get("/account/return", headers=as_("bob@corp.example")).status_code == 303
    page = client.get("/account", headers=as_("bob@corp.example")).get_data(as_text=True)
    assert "Signed in as bob@corp.example" in page and "You are now on" not in page


def test_the_header_counts_only_from_the_proxy(app, auth, standin):
    auth.signup("alice@corp.example")
    auth.subscribe("pro_monthly")
    standin.clear_requests()
    outsider = app.test_client()
    outsider.environ_base["REMOTE_ADDR"] = "203.0.113.9"  # not the proxy: straight to the site
    account = outsider.get("/account", headers=as_("alice@corp.example"))
    assert account.status_code == 401 and "alice@" not in account.get_data(as_text=True)
    pricing = outsider.get("/", headers=as_("alice@corp.example")).get_data(as_text=True)
    assert "alice@" not in pricing and "Current plan" not in pricing
    assert outsider.post("/account/billing", headers=as_("alice@corp.example")).status_code in (400, 401)
    assert standin.requests == []


def test_without_sign_in_pages_the_site_links_to_none(client, standin):
    page = client.get("/").get_data(as_text=True)
    assert "/signin" not in page and "/signup" not in page and "Sign out" not in page
    assert client.get("/signin").status_code == 404
    response = client.post("/account/billing")
    assert response.status_code in (400, 401)
    assert client.get("/account").status_code == 401
    assert "Please sign in to continue." in client.get("/account").get_data(as_text=True)
    assert standin.requests == []
