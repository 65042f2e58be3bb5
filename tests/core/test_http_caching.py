"""Caching is HTTP's (billing/web.py): the pricing page signed out is the same for
everyone at its address, opens no session, and says `public` with an ETag (304 when
the copy is current); every answer that may show a visitor's own says `private, no-store`."""

from __future__ import annotations

import re

import pytest

from billing.web import PUBLIC_SECONDS
from tests.helpers import Auth

CODE = "SPRING24"  # a campaign code in a link (not the catalog's: Stripe checks it on the click)


def is_public(response):
    return response.headers["Cache-Control"] == f"public, max-age={PUBLIC_SECONDS}"


def is_private(response):
    return response.headers["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize("path", ["/", "/pricing", "/pricing?interval=year", f"/pricing?promo={CODE}"])
def test_the_pricing_page_signed_out_is_public_and_opens_no_session(app, path):
    page = app.test_client().get(path)
    assert page.status_code == 200 and is_public(page)
    assert page.headers["ETag"] and "Cookie" in page.vary  # a signed-in visitor's cookie gets another page
    assert "Set-Cookie" not in page.headers
    assert "csrf_token" not in page.get_data(as_text=True)  # its buttons are links to sign up


def test_a_matching_etag_gets_a_304_and_another_the_page(app):
    client = app.test_client()
    first = client.get("/pricing")
    again = client.get("/pricing", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    assert is_public(again) and again.headers["ETag"] == first.headers["ETag"]
    other = client.get("/pricing?interval=year", headers={"If-None-Match": first.headers["ETag"]})
    assert other.status_code == 200 and other.headers["ETag"] != first.headers["ETag"]


def test_a_campaign_link_signed_out_writes_no_session_and_its_links_carry_the_code(app):
    client = app.test_client()
    page = client.get(f"/pricing?promo={CODE}")
    text = page.get_data(as_text=True)
    assert f"Code <strong>{CODE}</strong> will be checked" in text and "Set-Cookie" not in page.headers
    links = re.findall(r'href="(/sign(?:up|in)\?[^"]+)"', text)
    assert links and all(f"promo={CODE}" in link and "plan=" in link for link in links)
    assert f"interval=year&amp;promo={CODE}" in text  # the interval switch keeps it too
    assert f"Code <strong>{CODE}</strong>" not in app.test_client().get("/pricing").get_data(as_text=True)


@pytest.mark.parametrize("way", ["signup", "signin"])
def test_a_campaign_code_survives_signing_up_or_in_through_the_link(app, client, auth, way):
    if way == "signin":
        Auth(app.test_client(), app).signup()  # the account, made in another browser
    page = client.get(f"/pricing?promo={CODE}").get_data(as_text=True)
    link = re.search(rf'href="(/{way}\?[^"]+)"', page).group(1).replace("&amp;", "&")
    form = {"csrf_token": csrf(client, link), "email": "ada@example.com", "password": "correct horse"}
    if way == "signup":
        form["confirm"] = form["password"]
    assert client.post(link, data=form).status_code == 303
    mine = client.get("/pricing")
    assert "Sign out" in mine.get_data(as_text=True) and is_private(mine)
    assert f"Code <strong>{CODE}</strong> will be checked" in mine.get_data(as_text=True)


def csrf(client, path):
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_pages_of_a_signed_in_customer_are_private(app, client, auth):
    auth.signup()
    auth.subscribe()
    for path in ("/", "/pricing", "/account"):
        page = client.get(path)
        assert page.status_code == 200 and is_private(page), path
        assert "ETag" not in page.headers
    # Even offered the ETag of the page everyone signed out gets: the customer's own page, whole.
    anonymous = app.test_client().get("/pricing")
    mine = client.get("/pricing", headers={"If-None-Match": anonymous.headers["ETag"]})
    assert mine.status_code == 200 and "Sign out" in mine.get_data(as_text=True) and is_private(mine)


def test_no_answer_to_a_signed_in_customer_is_public(app, client, auth):
    auth.signup()
    auth.subscribe()
    paths = sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and rule.endpoint != "static"
    )
    assert "/pricing" in paths and "/account" in paths
    for path in paths:
        answer = client.get(path)
        assert "public" not in answer.headers.get("Cache-Control", ""), path
        assert is_private(answer) or answer.status_code in (301, 302, 303, 404), (path, answer.status_code)


def test_a_page_showing_a_flashed_message_is_private(client, auth):
    auth.signup()
    auth.signout()
    page = client.get("/pricing")  # signed out, with a session that holds "You are signed out."
    assert "You are signed out." in page.get_data(as_text=True) and is_private(page)
    # The same visitor, the message read: their session is still theirs (it holds a CSRF token).
    assert is_private(client.get("/pricing"))


def test_forms_are_private(app):
    page = app.test_client().get("/signin")
    assert "csrf_token" in page.get_data(as_text=True) and is_private(page)


def test_static_files_keep_flasks_own_caching(app):
    answer = app.test_client().get("/static/style.css")
    assert answer.status_code == 200 and "private" not in answer.headers["Cache-Control"] and answer.headers["ETag"]
