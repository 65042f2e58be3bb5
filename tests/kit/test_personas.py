"""Demo personas: `flask demo seed` and `reset` through the stand-in, and the
header menu that signs in as each of them."""

from __future__ import annotations

import pytest

from app import create_app
from billing.settings import ConfigError
from kit.personas import PERSONAS
from tests.helpers import Auth, csrf_token, database_url, demo_app, local_path

# What each persona's subscription looks like once seeded: (status, lookup key, quantity, cancel scheduled).
EXPECTED = {
    "new": None,
    "monthly": ("active", "pro_monthly", 1, False),
    "yearly": ("active", "starter_yearly", 1, False),
    "seats": ("active", "business_monthly", 5, False),
    "trialing": ("trialing", "pro_monthly", 1, False),
    "cancel-scheduled": ("active", "pro_monthly", 1, True),
    "past-due": ("past_due", "pro_monthly", 1, False),
    "paused": ("paused", "pro_monthly", 1, False),
    "canceled": ("canceled", "starter_monthly", 1, False),
}
# What the account page says for each (besides the plan name).
SHOWN = {
    "new": "You have no subscription yet",
    "monthly": "Active",
    "yearly": "Active",
    "seats": "5 seats",
    "trialing": "Trial",
    "cancel-scheduled": "Cancels on",
    "past-due": "Past due: the last payment failed",
    "paused": "Paused",
    "canceled": "Canceled",
}


@pytest.fixture
def seeded(app, auth):
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    return result


def test_every_persona_is_covered():
    assert {p.key for p in PERSONAS} == set(EXPECTED) == set(SHOWN)


def test_seed_makes_every_persona_in_its_state(seeded, auth, standin):
    for p in PERSONAS:
        assert f"created  {p.email}" in seeded.output
        user = auth.user(p.email)
        customer = standin.state.get(user.customer, "customer")
        assert customer["metadata"] == {"demo_persona": p.key}
        expected = EXPECTED[p.key]
        if expected is None:
            assert user.subscription is None
            continue
        sub = user.subscription
        assert (sub.status, sub.lookup_key, sub.quantity, sub.cancel_at_period_end) == expected, p.key
        stripe_sub = standin.state.get(sub.stripe_subscription_id, "subscription")
        assert stripe_sub["status"] == sub.status  # the mirror says what Stripe says


def test_the_past_due_persona_lives_on_a_test_clock_with_a_declined_invoice(seeded, auth, standin):
    user = auth.user("past-due@personas.example")
    customer = standin.state.get(user.customer, "customer")
    clock = standin.state.get(customer["test_clock"], "test_helpers.test_clock")
    assert clock["name"] == "Demo persona: Priya" and clock["status"] == "ready"
    sub = standin.state.get(user.subscription.stripe_subscription_id, "subscription")
    invoice = standin.state.get(sub["latest_invoice"], "invoice")
    assert invoice["status"] == "open" and invoice["attempt_count"] >= 1


def test_a_second_seed_changes_nothing(seeded, app, standin):
    standin.clear_requests()
    again = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert again.exit_code == 0
    assert "created" not in again.output
    assert again.output.count("exists ") == len(PERSONAS)
    assert standin.requests == []


def test_the_header_menu_signs_in_as_each_persona(seeded, client):
    page = client.get("/").get_data(as_text=True)
    assert "Demo personas" in page
    for p in PERSONAS:
        assert f'name="persona" value="{p.key}"' in page
        switched = client.post("/demo/persona", data={"csrf_token": csrf_token(client, "/"), "persona": p.key})
        assert switched.status_code == 303 and switched.headers["Location"] == "/account"
        account = client.get("/account").get_data(as_text=True)
        assert f"Signed in as {p.name}, a demo customer." in account
        assert SHOWN[p.key] in account, p.key


def test_the_menu_refuses_an_unknown_persona_and_a_missing_csrf_token(seeded, client):
    unknown = client.post("/demo/persona", data={"csrf_token": csrf_token(client, "/"), "persona": "admin"})
    assert unknown.status_code == 303
    assert "There is no such demo persona." in client.get("/").get_data(as_text=True)
    assert client.get("/account").status_code == 302  # still signed out
    assert client.post("/demo/persona", data={"persona": "monthly"}).status_code == 400


def test_the_menu_before_seeding_says_how_to_seed(client):
    response = client.post("/demo/persona", data={"csrf_token": csrf_token(client, "/"), "persona": "monthly"})
    assert response.status_code == 303
    assert "run `flask --app app demo seed`" in client.get("/").get_data(as_text=True)


def test_reset_removes_what_seed_made_and_nothing_else(seeded, app, auth, standin):
    auth.signup()
    auth.subscribe()
    reset = app.test_cli_runner().invoke(args=["demo", "reset", "--remove-only"])
    assert reset.exit_code == 0, reset.output
    assert f"Removed {len(PERSONAS)} demo personas" in reset.output
    for p in PERSONAS:
        with app.app_context():
            from billing.models import User, db

            assert db.session.scalar(db.select(User).where(User.email == p.email)) is None
    remaining = [c for c in standin.state.all("customer") if not c.get("deleted")]
    assert [c["email"] for c in remaining] == ["ada@example.com"]
    assert standin.state.all("test_helpers.test_clock") == []
    assert auth.user("ada@example.com").subscription.status == "active"
    # ... and seeding again starts over cleanly.
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).output.count("created") == len(PERSONAS)


def test_no_persona_menu_when_switched_off(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "DEMO_PERSONAS": "off",
            "APP_BASE_URL": "http://localhost",
            "SECRET_KEY": "test-secret-key-not-for-production",
            "DATABASE_URL": database_url(tmp_path, "app"),
        }
    )
    client = app.test_client()
    assert "Demo personas" not in client.get("/").get_data(as_text=True)
    response = client.post("/demo/persona", data={"csrf_token": csrf_token(client, "/signin"), "persona": "monthly"})
    assert response.status_code == 404


def test_personas_are_refused_in_live_mode(tmp_path, monkeypatch):
    live = {"STRIPE_SECRET_KEY": "sk_live_x", "STRIPE_ALLOW_LIVE_MODE": "true"}
    with pytest.raises(ConfigError, match="DEMO_PERSONAS must be off in live mode"):
        demo_app(tmp_path, **live, DEMO_PERSONAS="on")
    app = demo_app(tmp_path, **live)
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code != 0 and "never a live-mode account" in result.output


def persona_states(auth):
    states = {}
    for p in PERSONAS:
        sub = auth.user(p.email).subscription
        states[p.key] = None if sub is None else (sub.status, sub.lookup_key, sub.quantity, sub.cancel_at_period_end)
    return states


def test_reset_demo_from_the_menu_puts_every_persona_back_while_the_site_runs(seeded, app, client, auth, standin):
    """Between two audiences: one click in the persona menu (offline mode), no restart."""
    assert persona_states(auth) == EXPECTED
    # An audience played with Mona: she switched to Business and scheduled her cancellation.
    client.post("/demo/persona", data={"csrf_token": csrf_token(client, "/"), "persona": "monthly"})
    auth.email = "monthly@personas.example"
    for route, form in (("/account/switch-plan", {"lookup_key": "business_monthly"}), ("/account/cancel", {})):
        client.post(local_path(auth.post(route, **form).headers["Location"]), data={"choice": "decline"})
    client.get("/account/return")
    mona = auth.user("monthly@personas.example").subscription
    assert (mona.lookup_key, mona.cancel_at is not None) == ("business_monthly", True)

    page = client.get("/").get_data(as_text=True)
    assert 'action="/demo/reset"' in page
    reset = client.post("/demo/reset", data={"csrf_token": csrf_token(client, "/")})
    assert reset.status_code == 303
    assert "The demo is reset" in client.get("/").get_data(as_text=True)
    assert client.get("/account").status_code == 302  # signed out
    assert persona_states(auth) == EXPECTED
    # Every button works again, for the next audience.
    client.post("/demo/persona", data={"csrf_token": csrf_token(client, "/"), "persona": "monthly"})
    cancel = auth.post("/account/cancel")
    assert cancel.status_code == 303 and "/_standin/p/session/bps_" in cancel.headers["Location"]
    assert client.post("/demo/reset", data={}).status_code == 400  # no CSRF token


def test_reset_demo_is_offline_only(tmp_path):
    app = demo_app(tmp_path, DEMO_PERSONAS="on")  # a test key: the stand-in is not in this process
    client = app.test_client()
    assert 'action="/demo/reset"' not in client.get("/").get_data(as_text=True)
    assert client.post("/demo/reset", data={"csrf_token": csrf_token(client, "/signin")}).status_code == 404


# What each persona's page must not say (each would be false for that state).
NOT_SHOWN = {
    "trialing": "Renews on",
    "past-due": "Renews on",
    "cancel-scheduled": "Switch to yearly billing",  # the page promises no further charges
    "paused": "Renews on",
}
# What it says instead.
SAID = {
    "trialing": "Trial ends",
    "past-due": "Last payment",
    "monthly": "Renews on",
    "cancel-scheduled": "you can renew it from",
}


def test_each_state_reads_true_and_offline_says_offline(seeded, client):
    for p in PERSONAS:
        client.post("/demo/persona", data={"csrf_token": csrf_token(client, "/"), "persona": p.key})
        page = client.get("/account").get_data(as_text=True)
        if p.key in NOT_SHOWN:
            assert NOT_SHOWN[p.key] not in page, p.key
        if p.key in SAID:
            assert SAID[p.key] in page, p.key
        assert "· offline mode" in page and "· test mode" not in page


def test_personas_made_offline_are_made_again_under_a_test_key(seeded, tmp_path, auth):
    """A demo database later used with a test key: its offline personas are no customers
    there, so seed makes them again instead of saying they exist."""
    offline_customers = {p.key: auth.user(p.email).customer for p in PERSONAS}
    app = demo_app(tmp_path, name="test", DEMO_PERSONAS="on")  # the kit's database, a test key
    again = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert again.exit_code == 0, again.output
    assert again.output.count("created") == len(PERSONAS) and "exists" not in again.output
    test_mode = Auth(app.test_client(), app)
    for p in PERSONAS:
        assert test_mode.user(p.email).customer not in (None, offline_customers[p.key]), p.key
