"""Every route, fuzzed: random and malformed forms, wrong methods, odd Unicode,
with and without a valid CSRF token, signed in and out. Nothing may answer 5xx.
Plus the tampering cases, each refused with no Stripe call."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import Auth, core_app, csrf_token, session_token

FIELDS = [
    "lookup_key",
    "quantity",
    "locale",
    "email",
    "password",
    "confirm",
    "persona",
    "plan",
    "promo",
    "csrf_token",
    "choice",
    "next",
]
ODD = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-1",
            "99999999999999999999",
            "1e9",
            "NaN",
            "pro_monthly",
            "business_monthly",
            "../../etc/passwd",
            "<script>x</script>",
            "\x00",
            "ü" * 300,
            "😀",
            "https://evil.example",
            "//evil.example",
        ]
    ),
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    app = core_app(tmp, name="fuzz")
    client = app.test_client()
    auth = Auth(client, app)
    auth.signup()
    auth.subscribe("business_monthly")
    rules = sorted(
        {
            (rule.rule, tuple(sorted(rule.methods - {"HEAD", "OPTIONS"})))
            for rule in app.url_map.iter_rules()
            if rule.endpoint != "static"
        }
    )
    return app, client, rules, auth.email


def sign_in_as(app, client, email):
    """Flask-Login's session keys, set directly: signed in without the password check,
    so examples after a fuzzed POST /signout (which changes the user's token) are signed in again."""
    token = session_token(app, email)
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = token, True


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_route_answers_5xx(world, data):
    app, client, rules, email = world
    signed_in = data.draw(st.integers(0, 4)) > 0  # signed in 4 times in 5
    if signed_in:
        sign_in_as(app, client, email)
    else:
        client.delete_cookie("session")
    path, methods = data.draw(st.sampled_from(rules))
    method = data.draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"] + list(methods) * 3))
    form = data.draw(st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)), ODD, max_size=6))
    if data.draw(st.booleans()):
        form["csrf_token"] = csrf_token(client, "/account" if signed_in else "/signin")
    query = data.draw(
        st.dictionaries(st.sampled_from(["plan", "interval", "promo", "next", "checkout_session"]), ODD, max_size=3)
    )
    response = client.open(path, method=method, data=form, query_string=query)
    assert response.status_code < 500, (method, path, form, query, response.get_data(as_text=True)[:500])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=2000), signature=st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=80)
)
def test_webhook_garbage_is_refused_not_crashed(world, body, signature):
    _, client, _, _ = world
    response = client.post("/stripe/webhook", data=body, headers={"Stripe-Signature": signature})
    assert response.status_code == 400


def test_oversized_bodies_are_refused(world):
    _, client, _, _ = world
    response = client.post("/signin", data={"email": "a" * 100_000, "password": "x"})
    assert response.status_code == 413
    assert client.post("/stripe/webhook", data=b"x" * 100_000).status_code == 413


# --- tampering: each refused, with no Stripe call ------------------------------------------


def test_a_csrf_token_from_another_session_is_refused(app, client, auth, standin):
    other = app.test_client()
    foreign_token = csrf_token(other)
    auth.signup()
    auth.subscribe("starter_monthly")  # so Manage billing is a button this user may press
    standin.clear_requests()
    response = client.post("/account/billing", data={"csrf_token": foreign_token})
    assert response.status_code == 400 and standin.requests == []
    assert "This form has expired or did not come from this site" in response.get_data(as_text=True)
    assert auth.post("/account/billing").status_code == 303  # with its own token it works


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)"]
)
def test_next_parameters_cannot_redirect_off_site(client, auth, target):
    auth.signup()
    auth.signout()
    response = client.post(
        f"/signin?next={target}",
        data={"csrf_token": csrf_token(client), "email": "ada@example.com", "password": "correct horse"},
    )
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    response = client.get(f"/pricing?plan={target}&next={target}")
    assert response.status_code == 200


def test_form_ids_are_ignored_the_signed_in_users_own_records_are_used(client, auth, standin):
    auth.signup("eve@example.com")
    auth.subscribe("starter_monthly")
    eve = auth.user()
    auth.signout()
    auth.signup("ada@example.com")
    auth.subscribe("starter_monthly")
    ada = auth.user()
    standin.clear_requests()
    response = auth.post("/account/cancel", customer=eve.customer, subscription=eve.subscription.stripe_subscription_id)
    assert response.status_code == 303
    (sent,) = [r for r in standin.requests if r.path == "/v1/billing_portal/sessions"]
    assert sent.params["customer"] == ada.customer
    assert sent.params["flow_data"]["subscription_cancel"]["subscription"] == ada.subscription.stripe_subscription_id


@pytest.mark.parametrize("field", ["price_id", "archived"])
def test_prices_outside_the_catalog_are_refused_with_no_stripe_call(app, client, auth, standin, field):
    auth.signup()
    auth.subscribe("starter_monthly")
    sdk = app.extensions["stripe"].client
    if field == "archived":
        old = sdk.v1.prices.create(
            {"product": "pro", "currency": "usd", "unit_amount": 100, "recurring": {"interval": "month"}}
        )
        sdk.v1.prices.update(old.id, {"active": False})
        value = old.id
    else:
        value = next(p["id"] for p in standin.state.all("price") if p["lookup_key"] == "pro_monthly")
    standin.clear_requests()
    for route in ("/account/switch-plan", "/checkout"):
        response = auth.post(route, lookup_key=value)
        assert response.status_code == 400, (route, response.status_code)
    assert standin.requests == []
