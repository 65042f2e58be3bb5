"""Integration: each button through the Flask test client against the stand-in,
asserting the exact params Stripe received, the 303 and its Location."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.helpers import BASE_URL, csrf_token, follow, local_path

RETURN = f"{BASE_URL}/account/return"


def stripe_calls(standin, method=None, path=None):
    return [r for r in standin.requests if (method is None or r.method == method) and (path is None or r.path == path)]


def price_id(standin, lookup_key):
    return next(o["id"] for o in standin.state.all("price") if o.get("lookup_key") == lookup_key)


def test_pricing_page_makes_no_stripe_call(client, auth, standin):
    assert client.get("/").status_code == 200
    auth.signup()
    auth.subscribe("starter_monthly")
    standin.clear_requests()
    for path in ("/", "/pricing?interval=year", "/account"):
        assert client.get(path).status_code == 200
    assert standin.requests == []


def test_pricing_marks_the_current_plan_and_switch_works_without_javascript(client, auth):
    auth.signup()
    auth.subscribe("pro_monthly")
    monthly = client.get("/").get_data(as_text=True)
    assert "Your plan" in monthly and "Current plan" in monthly
    assert monthly.count("Switch to") == 2
    yearly = client.get("/?interval=year").get_data(as_text=True)
    assert "$290" in yearly and "Current plan" not in yearly
    assert 'value="pro_yearly"' in yearly


def test_signed_out_visitor_signs_up_and_continues_to_the_picked_plan(client, auth):
    page = client.get("/?interval=year").get_data(as_text=True)
    assert "/signup?plan=pro_yearly" in page
    response = auth.signup(query="?plan=pro_yearly")
    assert response.status_code == 303 and response.headers["Location"] == "/?plan=pro_yearly"
    page = client.get("/?plan=pro_yearly").get_data(as_text=True)
    assert "You picked <strong>Pro, billed yearly</strong>" in page and "card highlighted picked" in page
    assert 'action="/checkout"' in page


def test_sign_in_also_continues_to_the_picked_plan(client, auth):
    auth.signup()
    auth.signout()
    client.get("/signin?plan=business_monthly")
    assert auth.signin().headers["Location"] == "/?plan=business_monthly"


def test_a_plan_outside_the_catalog_is_not_remembered(client, auth):
    client.get("/signup?plan=https://evil.example")
    assert auth.signup().headers["Location"] == "/account"


def test_checkout_params_and_return(client, auth, standin):
    auth.signup()
    response = auth.post("/checkout", lookup_key="pro_monthly")
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"{BASE_URL}/_standin/c/pay/cs_test_")
    user = auth.user()
    [sent] = stripe_calls(standin, "POST", "/v1/checkout/sessions")
    assert sent.params == {
        "mode": "subscription",
        "customer": user.customer,
        "client_reference_id": str(user.id),
        "line_items": [{"price": price_id(standin, "pro_monthly"), "quantity": "1"}],
        "subscription_data": {"billing_mode": {"type": "flexible"}},
        "success_url": f"{BASE_URL}/checkout/return?checkout_session={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{BASE_URL}/?interval=month",
    }
    assert sent.headers.get("Stripe-Version") == "2026-10-28.endive"

    paid = client.post(local_path(response.headers["Location"]))
    back = client.get(local_path(paid.headers["Location"]))
    assert back.headers["Location"] == "/account"
    sub = auth.user().subscription
    assert (sub.lookup_key, sub.status, sub.interval, sub.amount) == ("pro_monthly", "active", "month", 2900)
    page = client.get("/account").get_data(as_text=True)
    assert "Pro" in page and "$29 per month" in page and "Renews on" in page


def test_one_customer_per_user(auth, standin):
    auth.signup()
    auth.post("/checkout", lookup_key="pro_monthly")
    auth.post("/checkout", lookup_key="starter_monthly")
    assert len(stripe_calls(standin, "POST", "/v1/customers")) == 1


def test_switch_plan_opens_subscription_update_confirm(client, auth, standin):
    auth.signup()
    auth.subscribe("starter_monthly")
    standin.clear_requests()
    response = auth.post("/account/switch-plan", lookup_key="pro_yearly")
    assert response.status_code == 303
    session_url = response.headers["Location"]
    assert session_url.startswith(f"{BASE_URL}/_standin/p/session/bps_")

    user = auth.user()
    [sent] = stripe_calls(standin, "POST", "/v1/billing_portal/sessions")
    assert sent.params == {
        "customer": user.customer,
        "return_url": RETURN,
        "configuration": standin.state.all("billing_portal.configuration")[0]["id"],
        "flow_data": {
            "type": "subscription_update_confirm",
            "subscription_update_confirm": {
                "subscription": user.subscription.stripe_subscription_id,
                # A flat plan: one, said out loud (an item without a quantity keeps the old one).
                "items": [{"id": user.subscription.item_id, "price": price_id(standin, "pro_yearly"), "quantity": "1"}],
            },
            "after_completion": {"type": "redirect", "redirect": {"return_url": RETURN}},
        },
    }

    # Confirm on the hosted page; the flow redirects back, the return refreshes the mirror.
    done = client.post(local_path(session_url))
    assert done.status_code == 303 and done.headers["Location"] == RETURN
    assert client.get(local_path(done.headers["Location"])).headers["Location"] == "/account"
    sub = auth.user().subscription
    assert (sub.lookup_key, sub.interval, sub.amount) == ("pro_yearly", "year", 29000)
    page = client.get("/account").get_data(as_text=True)
    assert "$290 per year" in page and "You are now on Pro, billed yearly." in page


def test_cancel_opens_subscription_cancel_and_account_shows_the_date(client, auth, standin):
    auth.signup()
    auth.subscribe("pro_monthly")
    standin.clear_requests()
    response = auth.post("/account/cancel")
    assert response.status_code == 303
    user = auth.user()
    [sent] = stripe_calls(standin, "POST", "/v1/billing_portal/sessions")
    # As catalog.toml configures it: a retention offer, then Stripe's confirmation page.
    assert sent.params["flow_data"] == {
        "type": "subscription_cancel",
        "subscription_cancel": {
            "subscription": user.subscription.stripe_subscription_id,
            "retention": {"type": "coupon_offer", "coupon_offer": {"coupon": "stay-with-us"}},
        },
        "after_completion": {
            "type": "hosted_confirmation",
            "hosted_confirmation": {"custom_message": "Your cancellation is confirmed. We are sorry to see you go."},
        },
    }
    assert sent.params["return_url"] == RETURN

    # Decline the offer; the confirmation page shows the message and links back.
    done = follow(client, client.post(local_path(response.headers["Location"]), data={"choice": "decline"}))
    assert done.status_code == 200
    page = done.get_data(as_text=True)
    assert "We are sorry to see you go." in page and RETURN in page
    client.get("/account/return")
    sub = auth.user().subscription
    # In flexible billing mode the portal schedules the cancellation with cancel_at.
    assert sub.cancel_at is not None and sub.cancel_at_period_end is False
    page = client.get("/account").get_data(as_text=True)
    assert "Cancels on" in page and "Cancel at period end" not in page


def test_account_reads_cancel_at_period_end_too(client, auth, app):
    from billing.models import Subscription, db

    auth.signup()
    auth.subscribe("pro_monthly")
    with app.app_context():
        sub = db.session.scalar(db.select(Subscription))
        sub.cancel_at, sub.cancel_at_period_end = None, True
        sub.current_period_end = datetime(2030, 1, 31)
        db.session.commit()
    page = client.get("/account").get_data(as_text=True)
    assert "Cancels on" in page and "January 31, 2030" in page


def test_manage_billing_opens_the_plain_portal(client, auth, standin):
    auth.signup()
    auth.subscribe()
    standin.clear_requests()
    response = auth.post("/account/billing")
    assert response.status_code == 303
    [sent] = stripe_calls(standin, "POST", "/v1/billing_portal/sessions")
    assert set(sent.params) == {"customer", "return_url", "configuration"}
    assert sent.params["return_url"] == RETURN


def test_every_request_the_app_sent_passed_validation(client, auth, standin):
    """The stand-in checks each request against the SDK's TypedDicts and answers
    400 to a malformed one; through a whole customer journey, none was refused."""
    auth.signup()
    auth.subscribe("starter_monthly")
    for path, data in [
        ("/account/switch-plan", {"lookup_key": "business_yearly"}),
        ("/account/cancel", {}),
        ("/account/billing", {}),
    ]:
        response = auth.post(path, **data)
        done = client.post(local_path(response.headers["Location"]))
        if done.status_code == 303:
            client.get(local_path(done.headers["Location"]))
    paths = {r.path for r in standin.requests}
    assert {"/v1/customers", "/v1/checkout/sessions", "/v1/billing_portal/sessions", "/v1/subscriptions"} <= paths
    assert [(r.method, r.path, r.status) for r in standin.requests if r.status != 200] == []


# --- refusals: each with no Stripe call ---------------------------------------------------


def test_post_without_csrf_token_is_refused(client, auth, standin):
    auth.signup()
    auth.subscribe()
    standin.clear_requests()
    for path in ("/account/cancel", "/account/billing", "/checkout", "/account/switch-plan"):
        response = client.post(path, data={"lookup_key": "pro_monthly"})
        assert response.status_code == 400
        assert "did not come from this site" in response.get_data(as_text=True)
    assert standin.requests == []


def test_csrf_token_of_another_session_is_refused(app, auth, standin):
    other = app.test_client()
    foreign_token = csrf_token(other)
    auth.signup()
    auth.subscribe()
    standin.clear_requests()
    response = auth.client.post("/account/cancel", data={"csrf_token": foreign_token})
    assert response.status_code == 400 and standin.requests == []


@pytest.mark.parametrize("lookup_key", ["not_a_plan", "", "price_123", "starter_monthly' OR 1=1"])
def test_a_price_outside_the_catalog_is_refused(auth, standin, lookup_key):
    auth.signup()
    auth.subscribe("pro_monthly")
    standin.clear_requests()
    for path in ("/account/switch-plan", "/checkout"):
        response = auth.post(path, lookup_key=lookup_key)
        assert response.status_code == 400
        assert "not on our pricing page" in response.get_data(as_text=True)
    assert standin.requests == []


def test_switching_to_the_current_plan_is_refused(auth, standin):
    auth.signup()
    auth.subscribe("pro_monthly")
    standin.clear_requests()
    response = auth.post("/account/switch-plan", lookup_key="pro_monthly")
    assert response.status_code == 400 and "already on this plan" in response.get_data(as_text=True)
    assert standin.requests == []


def test_buttons_need_a_subscription_of_ones_own(app, auth, standin):
    # Ada subscribes; Bob, with no subscription, tries to act on Ada's.
    auth.signup()
    ada = auth.subscribe("pro_monthly")
    auth.signout()
    auth.signup(email="bob@example.com")
    standin.clear_requests()
    ada_sub = ada.subscription.stripe_subscription_id
    forged = {"subscription": ada_sub, "customer": ada.customer, "item": ada.subscription.item_id}
    assert auth.post("/account/cancel", **forged).status_code == 400
    assert auth.post("/account/switch-plan", lookup_key="business_monthly", **forged).status_code == 400
    assert standin.requests == []

    # Once Bob subscribes, the same forged fields still only ever reach Bob's records.
    bob = auth.subscribe("starter_monthly")
    standin.clear_requests()
    assert auth.post("/account/cancel", **forged).status_code == 303
    [sent] = stripe_calls(standin, "POST", "/v1/billing_portal/sessions")
    assert sent.params["customer"] == auth.user("bob@example.com").customer
    assert sent.params["flow_data"]["subscription_cancel"]["subscription"] == bob.subscription.stripe_subscription_id
    assert ada_sub not in str(standin.requests)


def test_buttons_need_sign_in(client, standin):
    for path in ("/account/cancel", "/account/billing", "/checkout", "/account/switch-plan"):
        response = client.post(path, data={"csrf_token": csrf_token(client)})
        assert response.status_code == 302 and "/signin" in response.headers["Location"]
    assert client.get("/account").status_code == 302
    assert standin.requests == []


def test_checkout_twice_is_refused(auth, standin):
    auth.signup()
    auth.subscribe("pro_monthly")
    standin.clear_requests()
    response = auth.post("/checkout", lookup_key="business_monthly")
    assert response.status_code == 400 and standin.requests == []


def test_a_checkout_session_of_another_customer_is_ignored(client, auth, app):
    auth.signup()
    auth.post("/checkout", lookup_key="pro_monthly")
    auth.signout()
    auth.signup(email="bob@example.com")
    ada_session = next(iter(app.extensions["test_standin"].state.all("checkout.session")))["id"]
    client.get(f"/checkout/return?checkout_session={ada_session}")
    assert auth.user("bob@example.com").subscription is None


# --- Stripe failures become messages ------------------------------------------------------


@pytest.mark.parametrize(
    "status, error_type, shown",
    [
        (400, "invalid_request_error", "Stripe could not open this step: No such thing"),
        (500, "api_error", "Nothing was changed; please try again"),
        (429, "invalid_request_error", "Stripe is busy right now"),
    ],
)
def test_stripe_errors_become_a_message(client, auth, standin, status, error_type, shown):
    auth.signup()
    auth.subscribe("starter_monthly")
    standin.fail_next(
        "POST", "/v1/billing_portal/sessions", status=status, error_type=error_type, message="No such thing", count=5
    )
    response = auth.post("/account/switch-plan", lookup_key="pro_monthly")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert shown in page
    assert "Traceback" not in page


def test_a_5xx_is_retried_with_the_same_idempotency_key(auth, standin):
    auth.signup()
    auth.subscribe("starter_monthly")
    standin.clear_requests()
    standin.fail_next(
        "POST", "/v1/billing_portal/sessions", status=503, error_type="api_error", message="down", count=1
    )
    response = auth.post("/account/cancel")
    assert response.status_code == 303 and "/p/session/" in response.headers["Location"]
    attempts = stripe_calls(standin, "POST", "/v1/billing_portal/sessions")
    assert len(attempts) == 2
    assert attempts[0].headers["Idempotency-Key"] == attempts[1].headers["Idempotency-Key"]


def test_stripe_unreachable_on_return_keeps_the_page_working(client, auth, standin):
    auth.signup()
    auth.subscribe("starter_monthly")
    standin.fail_next("GET", "/v1/subscriptions", status=500, error_type="api_error", message="down", count=5)
    response = client.get("/account/return")
    assert response.headers["Location"] == "/account"
    page = client.get("/account").get_data(as_text=True)
    assert "We could not refresh your subscription" in page and "Starter" in page


def test_a_malformed_request_is_refused_by_the_standin_as_stripe_would(app, auth):
    """Were a builder to misspell a key, the stand-in answers 400 naming it, and
    the app shows Stripe's message instead of failing."""
    from billing.stripe_api import BillingError

    auth.signup()
    auth.subscribe()
    user = auth.user()
    with app.app_context(), pytest.raises(BillingError, match=r"flow_data\[subscription_cancle\]"):
        app.extensions["stripe"].open_portal(
            {
                "customer": user.customer,
                "flow_data": {"type": "subscription_cancel", "subscription_cancle": {"subscription": "sub_x"}},  # type: ignore[typeddict-unknown-key]
            }
        )


def test_a_failed_refresh_on_return_keeps_what_the_step_changed_for_the_retry(client, auth, standin):
    auth.signup()
    auth.subscribe("starter_monthly")
    step = auth.post("/account/switch-plan", lookup_key="pro_monthly")
    done = client.post(local_path(step.headers["Location"]))
    standin.fail_next("GET", "/v1/subscriptions", status=500, error_type="api_error", message="down", count=5)
    client.get(local_path(done.headers["Location"]))  # Stripe down: "could not refresh"
    client.get("/account")
    standin.deliver_webhooks()  # the change reaches the mirror first
    page = follow(client, client.get("/account/return")).get_data(as_text=True)  # the retry
    assert "You are now on Pro, billed monthly." in page
