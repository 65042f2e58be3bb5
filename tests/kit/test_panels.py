"""The "Show the API call" panels: each shows exactly the params its button
sends (both are made by the button's own builder), and the key never."""

from __future__ import annotations

import html
import re
import shlex

import pytest

from app import create_app
from billing.buttons import BUTTON
from kit.api_calls import form_pairs
from tests.helpers import BASE_URL, Auth, database_url, demo_app, local_path

PANELLED = ("cancel", "pause", "plan_picker", "change_interval", "update_details", "manage_billing")


def portal_sessions(standin):
    return [r for r in standin.requests if r.method == "POST" and r.path == "/v1/billing_portal/sessions"]


def panel_pairs(page, marker):
    """The first curl panel after `marker` in the page, as (name, value) pairs."""
    start = page.index(marker)
    curl = html.unescape(re.search(r"<pre><code>(curl .*?)</code></pre>", page[start:], re.S).group(1))
    words = shlex.split(curl.replace("\\\n", " "))
    return [tuple(words[i + 1].split("=", 1)) for i, w in enumerate(words) if w == "--data-urlencode"]


@pytest.mark.parametrize("button, route", [(b, BUTTON[b].route) for b in PANELLED])
def test_the_panel_shows_exactly_what_the_button_sends(client, auth, standin, button, route):
    auth.signup()
    auth.subscribe("pro_monthly")
    page = client.get("/account").get_data(as_text=True)
    shown = panel_pairs(page, f'action="{route}"')
    standin.clear_requests()
    auth.post(route)
    [sent] = portal_sessions(standin)
    assert shown == form_pairs(sent.params)
    assert "sk_test" not in page and "$STRIPE_SECRET_KEY" in page


def test_the_pricing_panel_matches_the_switch(client, auth, standin):
    auth.signup()
    auth.subscribe("starter_monthly")
    shown = panel_pairs(client.get("/").get_data(as_text=True), 'value="pro_monthly"')
    standin.clear_requests()
    auth.post("/account/switch-plan", lookup_key="pro_monthly")
    [sent] = portal_sessions(standin)
    assert shown == form_pairs(sent.params)


def test_panels_are_off_when_the_setting_says_so(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "APP_BASE_URL": BASE_URL,
            "SECRET_KEY": "x" * 32,
            "SHOW_API_CALLS": "false",
            "DATABASE_URL": database_url(tmp_path, "a"),
        }
    )
    client = app.test_client()
    Auth(client, app).signup()
    assert "Show the API call" not in client.get("/").get_data(as_text=True)


def test_panels_in_test_mode_never_show_the_key(tmp_path):
    """With a real-looking test key (not offline), the panels are on and read the key
    from the environment; the key itself appears nowhere on the pages."""
    key = "sk_test_" + "NEVERSHOWN" * 3  # made up, and built here so no scanner takes it for a real one
    app = demo_app(tmp_path, STRIPE_SECRET_KEY=key, SHOW_API_CALLS="on")
    client = app.test_client()
    auth = Auth(client, app)
    auth.signup()
    pages = [client.get(path).get_data(as_text=True) for path in ("/", "/account")]
    auth.subscribe("pro_monthly")
    pages += [client.get(path).get_data(as_text=True) for path in ("/", "/account")]
    text = "\n".join(pages)
    assert "Show the API call" in text and "$STRIPE_SECRET_KEY" in text
    assert key not in text


def test_the_pricing_panel_follows_a_price_moved_at_stripe(app, client, auth, standin):
    auth.signup()
    auth.subscribe("starter_monthly")
    api = app.extensions["stripe"]
    old = api.known_price_id("pro_monthly")
    params = {"product": "pro", "unit_amount": 3100, "currency": "usd", "recurring": {"interval": "month"}}
    moved = api.client.v1.prices.create({**params, "lookup_key": "pro_monthly", "transfer_lookup_key": True})
    standin.deliver_webhooks()  # price.created and price.updated: the mirror now names the new price
    shown = dict(panel_pairs(client.get("/").get_data(as_text=True), 'value="pro_monthly"'))
    assert shown["flow_data[subscription_update_confirm][items][0][price]"] == moved.id != old


def test_the_pricing_panels_show_the_quantity_a_switch_sends(client, auth, standin):
    """Five seats of Business: the Pro card's panel says one, the yearly Business card's five,
    each as the switch then sends it."""
    auth.signup()
    checkout = auth.post("/checkout", lookup_key="business_monthly", quantity="5")
    paid = client.post(local_path(checkout.headers["Location"]))
    client.get(local_path(paid.headers["Location"]))
    pricing = client.get("/?interval=year").get_data(as_text=True)
    quantity = "flow_data[subscription_update_confirm][items][0][quantity]"
    for lookup_key, form, seats in (("pro_yearly", {}, "1"), ("business_yearly", {"quantity": "5"}, "5")):
        shown = panel_pairs(pricing, f'value="{lookup_key}"')
        assert dict(shown)[quantity] == seats
        standin.clear_requests()
        auth.post("/account/switch-plan", lookup_key=lookup_key, **form)
        [sent] = portal_sessions(standin)
        assert shown == form_pairs(sent.params)
