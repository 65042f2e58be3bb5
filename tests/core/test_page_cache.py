"""The pricing page seen by visitors who are not signed in is rendered once per choice
(interval, plan, campaign code) and served from memory; nothing of one visitor's
(a flashed message, a CSRF token, a signed-in header) ever reaches another."""

from __future__ import annotations

import dataclasses
import re

import pytest
from flask import request, template_rendered
from jinja2 import ChoiceLoader, DictLoader

from billing.forms import SignInForm

FORM_SLOT = '<form method="post" action="/signin"><input name="csrf_token" value="{{ csrf_token() }}"></form>'


@pytest.fixture
def renders(app):
    """The names of the templates rendered, as they are rendered."""
    names: list[str] = []

    def record(sender, template, context, **extra):
        names.append(template.name)

    template_rendered.connect(record, app)
    yield names
    template_rendered.disconnect(record, app)


def test_anonymous_visitors_share_one_rendering_per_choice(app, renders):
    first, second = app.test_client(), app.test_client()
    page = first.get("/pricing")
    assert second.get("/pricing").get_data() == page.get_data()
    assert first.get("/").get_data() == page.get_data()
    assert renders.count("pricing.html") == 1
    # No session for someone who only looks: no cookie is set.
    assert "Set-Cookie" not in page.headers

    yearly = second.get("/pricing?interval=year").get_data(as_text=True)
    assert "/year" in yearly and yearly != page.get_data(as_text=True)
    first.get("/pricing?interval=year")
    assert renders.count("pricing.html") == 2


def test_a_campaign_code_is_its_own_page_and_stays_with_its_visitor(app):
    campaign, other = app.test_client(), app.test_client()
    assert "WELCOME20" in campaign.get("/pricing?promo=WELCOME20").get_data(as_text=True)
    assert "WELCOME20" in campaign.get("/pricing").get_data(as_text=True)  # kept in the session
    assert "WELCOME20" not in other.get("/pricing").get_data(as_text=True)


def test_a_flashed_message_is_shown_once_and_never_shared(app, client, auth, renders):
    auth.signup()
    auth.signout()
    assert "You are signed out." in client.get("/pricing").get_data(as_text=True)
    assert "You are signed out." not in client.get("/pricing").get_data(as_text=True)
    assert "You are signed out." not in app.test_client().get("/pricing").get_data(as_text=True)


def test_a_signed_in_visitor_gets_their_own_page(app, client, auth):
    anonymous = app.test_client().get("/pricing").get_data(as_text=True)
    auth.signup()
    mine = client.get("/pricing").get_data(as_text=True)
    assert "Sign out" in mine and "Sign out" not in anonymous
    assert "Sign out" not in app.test_client().get("/pricing").get_data(as_text=True)


def test_a_form_on_a_shared_page_carries_each_visitors_own_token(app):
    # A plug-in's form in the header (the demo kit adds some): the page is shared, the token is not.
    app.jinja_env.loader = ChoiceLoader([DictLoader({"plugin/_form.html": FORM_SLOT}), app.jinja_env.loader])
    app.extensions.setdefault("slots", {}).setdefault("header", []).append("plugin/_form.html")
    visitors = [app.test_client(), app.test_client()]
    tokens = [
        re.search(r'name="csrf_token" value="([^"]+)"', v.get("/pricing").get_data(as_text=True)) for v in visitors
    ]
    assert all(tokens) and tokens[0].group(1) != tokens[1].group(1)
    signin = {"email": "nobody@example.com", "password": "wrong password"}
    for visitor, token in zip(visitors, tokens, strict=True):
        page = visitor.get("/pricing").get_data(as_text=True)
        assert app.extensions["page_cache"].placeholder not in page
        # Each token is good for its own visitor's form: the form is read (and refused on its merits).
        answer = visitor.post("/signin", data={"csrf_token": token.group(1), **signin}).get_data(as_text=True)
        assert "Email or password is incorrect." in answer
    stolen = visitors[0].post("/signin", data={"csrf_token": tokens[1].group(1), **signin}).get_data(as_text=True)
    assert "This form has expired or did not come from this site." in stolen


def test_a_new_catalog_starts_an_empty_cache(app, renders):
    client = app.test_client()
    catalog = app.extensions["catalog"]
    first = catalog.products[0]
    assert first.name in client.get("/pricing").get_data(as_text=True)
    renamed = dataclasses.replace(first, name="Renamed plan")
    app.extensions["catalog"] = dataclasses.replace(catalog, products=(renamed, *catalog.products[1:]))
    assert "Renamed plan" in client.get("/pricing").get_data(as_text=True)
    assert renders.count("pricing.html") == 2


def test_a_cookieless_visitor_is_answered_from_memory_before_flask_runs(app):
    seen: list[str] = []
    app.before_request(lambda: seen.append(request.path) and None)
    first = app.test_client().get("/pricing?interval=year")
    again = app.test_client().get("/pricing?interval=year")
    assert seen == ["/pricing"]  # the second answer never reached Flask
    assert again.get_data() == first.get_data() and again.status_code == 200
    # The same headers, the security headers among them.
    assert again.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
    assert dict(again.headers) == dict(first.headers)
    app.test_client().head("/pricing?interval=year")
    app.test_client().get("/pricing?interval=month")
    assert seen == ["/pricing"] * 3  # another address, or another method, goes to Flask


def test_a_visitor_with_a_cookie_never_gets_the_cookieless_answer(app):
    app.test_client().get("/pricing")  # kept
    campaign = app.test_client()
    campaign.get("/pricing?promo=WELCOME20")  # now has a session cookie
    assert "WELCOME20" in campaign.get("/pricing").get_data(as_text=True)
    assert "WELCOME20" not in app.test_client().get("/pricing").get_data(as_text=True)


def test_a_page_with_a_form_is_never_answered_from_memory(app):
    app.jinja_env.loader = ChoiceLoader([DictLoader({"plugin/_form.html": FORM_SLOT}), app.jinja_env.loader])
    app.extensions.setdefault("slots", {}).setdefault("header", []).append("plugin/_form.html")
    answers = [app.test_client().get("/pricing") for _ in range(2)]
    tokens = [re.search(r'name="csrf_token" value="([^"]+)"', a.get_data(as_text=True)).group(1) for a in answers]
    assert tokens[0] != tokens[1] and all("Set-Cookie" in a.headers for a in answers)


def test_an_answer_from_memory_follows_the_catalog(app):
    app.test_client().get("/pricing")
    catalog = app.extensions["catalog"]
    renamed = dataclasses.replace(catalog.products[0], name="Renamed plan")
    app.extensions["catalog"] = dataclasses.replace(catalog, products=(renamed, *catalog.products[1:]))
    assert "Renamed plan" in app.test_client().get("/pricing").get_data(as_text=True)


def test_a_page_with_a_flask_wtf_form_is_never_kept(app, renders):
    # A fork's form rendered with hidden_tag(), which asks Flask-WTF for a token itself.
    form = "<form>{{ form.hidden_tag() }}</form>"
    app.jinja_env.loader = ChoiceLoader([DictLoader({"plugin/_wtform.html": form}), app.jinja_env.loader])
    app.extensions.setdefault("slots", {}).setdefault("header", []).append("plugin/_wtform.html")
    # Built when the template asks (a form needs the request it is rendered in).
    app.jinja_env.globals["form"] = type("Lazy", (), {"hidden_tag": staticmethod(lambda: SignInForm().hidden_tag())})
    pages = [app.test_client().get("/pricing").get_data(as_text=True) for _ in range(2)]
    tokens = [re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', p) for p in pages]
    assert all(tokens) and tokens[0].group(1) != tokens[1].group(1)
    assert renders.count("pricing.html") == 2


def test_only_the_catalogs_campaign_codes_are_kept(app, renders):
    for code in ("RANDOM1", "RANDOM1", "WELCOME20", "WELCOME20"):
        app.test_client().get(f"/pricing?promo={code}")
    assert renders.count("pricing.html") == 3  # each unknown code rendered anew, the catalog's once
