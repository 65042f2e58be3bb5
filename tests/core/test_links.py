"""Signed deep links for email (/links/<token>): GET shows a page and changes nothing,
the page's POST uses the link once and opens the button's step; every bad link gets a
clear page and no Stripe call."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer

from billing import flows, links
from billing.accounts import delete_user, find_user
from billing.buttons import BUTTONS, BY_LINK_FLOW
from billing.eligibility import SubscriptionFacts
from billing.models import LinkUse, db
from tests.helpers import CSRF, SECRET_KEY, Auth, account_of, csrf_token, local_path

CARD = "update_payment_method"


def api_calls(standin):
    return [(r.method, r.path) for r in standin.requests if r.path.startswith("/v1/")]


def link_path(app, button=CARD, email="ada@example.com", price=None, expires=links.DEFAULT_EXPIRY):
    with app.app_context():
        url = links.url(links.make(account_of(email), button, price, expires))
    assert url.startswith("http://localhost/links/")
    return local_path(url)


def press(client, path):
    """The link page's button, as a browser sends it (this session's CSRF token, from the
    page, or from the sign-in page when the link's page is refused and has no form)."""
    match = CSRF.search(client.get(path).get_data(as_text=True))
    return client.post(path, data={"csrf_token": match.group(1) if match else csrf_token(client, "/signin")})


@pytest.fixture
def subscriber(auth, client):
    auth.signup()
    auth.subscribe("starter_monthly")
    auth.signout()  # a customer reading email on a phone is not signed in
    return auth


def test_opening_a_link_shows_its_one_step_without_calling_stripe_or_using_it(app, client, standin, subscriber):
    path = link_path(app)
    standin.clear_requests()
    for _ in range(3):  # a mail scanner, a link preview, the customer
        page = client.get(path)
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert "Update the card for the account of a…@example.com" in text
        assert "ada@example.com" not in text
        assert page.headers["Cache-Control"] == "private, no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    assert api_calls(standin) == []
    # Signed, not encrypted: what anyone can decode from the link names no address either.
    _, payload = URLSafeTimedSerializer(SECRET_KEY, salt=links.SALT).loads_unsafe(path.removeprefix("/links/"))
    assert payload["u"] == subscriber.user().id and "example.com" not in json.dumps(payload)
    with app.app_context():
        assert db.session.scalar(db.select(LinkUse)) is None
    assert press(client, path).status_code == 303  # still unused


def test_its_button_makes_one_stripe_call_and_303s_to_the_step_which_comes_back(app, client, standin, subscriber):
    path = link_path(app)
    standin.clear_requests()
    response = press(client, path)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("http://localhost/_standin/p/session/")
    assert api_calls(standin) == [("POST", "/v1/billing_portal/sessions")]
    sent = standin.requests[-1].params
    assert sent["customer"] == subscriber.user().customer
    with client.session_transaction() as session:  # nothing of the account in a signed-out cookie
        assert "left_with" not in session
    assert sent["flow_data"] == {
        "type": "payment_method_update",
        "after_completion": {"type": "redirect", "redirect": {"return_url": "http://localhost/account/return"}},
    }
    # The step ends on the site's way back, which asks a signed-out customer to sign in.
    done = client.post(local_path(response.headers["Location"]), data={"card": "5555555555554444"})
    assert done.headers["Location"] == "http://localhost/account/return"
    assert client.get("/account/return").headers["Location"].startswith("/signin")


def test_the_signed_in_customer_uses_their_own_link_and_comes_back_to_the_account(app, client, standin, subscriber):
    subscriber.signin()
    path = link_path(app)
    step = press(client, path)
    done = client.post(local_path(step.headers["Location"]), data={"card": "5555555555554444"})
    back = client.get(local_path(done.headers["Location"]))
    assert back.headers["Location"] == "/account"
    assert "Mastercard ending in 4444" in client.get("/account").get_data(as_text=True)


def test_a_plan_switch_link_carries_its_plan_through_the_buttons_builder(app, client, standin, subscriber):
    path = link_path(app, "switch_plan", price="pro_monthly")
    assert "Switch plan to Pro, billed monthly for the account of a…@example.com" in client.get(path).get_data(
        as_text=True
    )
    standin.clear_requests()
    assert press(client, path).status_code == 303
    flow = standin.requests[-1].params["flow_data"]
    [pro] = [p for p in standin.state.all("price") if p["lookup_key"] == "pro_monthly"]
    assert flow["type"] == "subscription_update_confirm"
    assert flow["subscription_update_confirm"]["items"][0]["price"] == pro["id"]
    assert "discounts" not in flow["subscription_update_confirm"]  # no campaign code rides on a link


# --- refused: a clear page, a way to sign in, no Stripe call ------------------------------


def assert_refused(response, status, words):
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert words in text
    assert 'href="/signin"' in text or 'href="/account"' in text


def test_a_link_is_used_once(app, client, standin, subscriber):
    path = link_path(app)
    assert press(client, path).status_code == 303
    standin.clear_requests()
    assert_refused(press(client, path), 410, "This link was used already")
    assert_refused(client.get(path), 410, "This link was used already")
    assert api_calls(standin) == []


def test_an_expired_link_is_refused(app, client, standin, subscriber, monkeypatch):
    path = link_path(app, expires=timedelta(minutes=30))
    assert client.get(path).status_code == 200
    later = links.now() + 31 * 60
    monkeypatch.setattr(links, "now", lambda: later)
    standin.clear_requests()
    assert_refused(client.get(path), 410, "This link has expired")
    assert_refused(press(client, path), 410, "This link has expired")
    assert api_calls(standin) == []


@pytest.mark.parametrize("how", ["one character changed", "cut short", "garbage", "signed for something else"])
def test_a_tampered_link_is_refused(app, client, standin, subscriber, how):
    path = link_path(app)
    token = path.removeprefix("/links/")
    if how == "one character changed":
        i = len(token) // 2
        token = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
    elif how == "cut short":
        token = token[:-5]
    elif how == "garbage":
        token = "not-a-token"
    else:  # the same secret, another salt: e.g. what another part of the app signs
        token = URLSafeTimedSerializer(SECRET_KEY, salt="cookie-session").dumps(
            {"u": subscriber.user().id, "e": "ada@example.com", "b": CARD, "j": "x", "x": links.now() + 600}
        )
    standin.clear_requests()
    assert_refused(client.get("/links/" + token), 404, "This link is not valid")
    assert_refused(press(client, "/links/" + token), 404, "This link is not valid")
    assert api_calls(standin) == []


def test_a_link_is_refused_while_another_user_is_signed_in(app, client, standin, subscriber):
    path = link_path(app)
    other = Auth(client, app)
    other.signup("bob@example.com")
    standin.clear_requests()
    page = client.get(path)
    assert_refused(page, 403, "This link is for another account")
    assert "signed in as bob@example.com" in page.get_data(as_text=True)
    assert_refused(press(client, path), 403, "This link is for another account")
    assert api_calls(standin) == []
    other.signout()
    assert press(client, path).status_code == 303  # signed out: the link still works, once


def test_a_step_no_longer_eligible_is_refused(app, client, standin, subscriber):
    path = link_path(app, "cancel")
    assert client.get(path).status_code == 200
    # Since the email went out, the subscription ended (on the Dashboard, say).
    app.extensions["stripe"].client.v1.subscriptions.cancel(subscriber.user().subscription.stripe_subscription_id)
    standin.deliver_webhooks()
    standin.clear_requests()
    assert_refused(client.get(path), 409, "Your subscription has ended")
    assert_refused(press(client, path), 409, "Your subscription has ended")
    assert api_calls(standin) == []


@pytest.mark.parametrize("change", ["email changed", "account deleted"])
def test_a_link_for_an_account_that_changed_is_refused(app, client, standin, subscriber, change):
    path = link_path(app)
    with app.app_context():
        if change == "email changed":
            account_of("ada@example.com").email = "ada.lovelace@example.com"
        else:
            delete_user(find_user("ada@example.com"))
        db.session.commit()
    standin.clear_requests()
    assert_refused(press(client, path), 410, "This link is no longer valid")
    assert api_calls(standin) == []


def test_a_press_without_this_sites_csrf_token_is_refused_and_leaves_the_link_unused(app, client, standin, subscriber):
    path = link_path(app)
    standin.clear_requests()
    assert client.post(path).status_code == 400
    assert client.post(path, data={"csrf_token": "forged"}).status_code == 400
    assert api_calls(standin) == []
    assert press(client, path).status_code == 303


def test_when_stripe_fails_the_link_works_again(app, client, standin, subscriber):
    path = link_path(app)
    standin.fail_next("POST", "/v1/billing_portal/sessions", count=3)  # the SDK's retries too
    failed = press(client, path)
    assert failed.status_code == 503
    assert "Update the card" in failed.get_data(as_text=True)  # the page again, to retry
    assert press(client, path).status_code == 303


def test_presses_are_limited_per_address(app, client, standin, subscriber):
    token = csrf_token(client, "/signin")
    statuses = [client.post("/links/nope", data={"csrf_token": token}).status_code for _ in range(11)]
    assert statuses == [404] * 10 + [429]


def test_two_presses_at_once_record_one_use(app, subscriber):
    with app.app_context():
        claims = links.read(link_path(app).removeprefix("/links/"))
        assert [links.claim(claims), links.claim(claims)] == [True, False]
        links.release(claims)
        assert links.claim(claims) is True


def test_link_tokens_never_reach_the_logs(app, subscriber, caplog):
    path = link_path(app)
    with caplog.at_level(logging.INFO):
        logging.getLogger("werkzeug").info('127.0.0.1 - - "GET %s HTTP/1.1" 200 -', path)
    assert "/links/[redacted]" in caplog.text and path not in caplog.text


# --- the pure parts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("7d", timedelta(days=7)), ("12h", timedelta(hours=12)), ("30m", timedelta(minutes=30)), (" 30D ", timedelta(30))],
)
def test_durations(text, expected):
    assert links.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["7", "d", "7 days", "1w", "-1d", "0m", "31d", "1.5h", ""])
def test_bad_durations_say_how_to_write_one(text):
    with pytest.raises(ValueError, match="7d, 12h or 30m|within 30 days"):
        links.parse_duration(text)


@pytest.mark.parametrize(
    ("email", "masked"), [("ada@example.com", "a…@example.com"), ("a@b.co", "a…@b.co"), ("nobody", "…")]
)
def test_emails_are_masked(email, masked):
    assert links.mask_email(email) == masked


@pytest.mark.parametrize("button", [b for b in BUTTONS if b.link], ids=lambda b: b.key)
def test_each_links_flow_is_the_one_its_buttons_builder_makes(button):
    sub = SubscriptionFacts(id="sub_1", item_id="si_1", lookup_key="starter_monthly", status="active")
    press = flows.Press(customer="cus_1", return_url="http://localhost/account/return", sub=sub, quantity=1)
    params = button.build(press)
    assert params["flow_data"]["type"] == button.link.flow
    assert BY_LINK_FLOW[button.link.flow] is button


def test_the_email_flows_are_the_portal_steps_that_need_no_form():
    assert set(BY_LINK_FLOW) == {
        "payment_method_update",
        "customer_update",
        "subscription_update_confirm",
        "subscription_update",
        "subscription_cancel",
        "subscription_pause",
    }


def test_a_link_record_does_not_keep_a_user_from_being_removed(app, client, subscriber):
    assert press(client, link_path(app)).status_code == 303
    with app.app_context():
        delete_user(find_user("ada@example.com"))
        db.session.commit()
        assert db.session.scalar(db.select(LinkUse.button)) == CARD
