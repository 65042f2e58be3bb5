"""Every portal flow through the stand-in: each flow type x each after_completion
type, promotion codes carried through sign-in, the retention offer, locale and
eligibility refusals. (The panels showing each call are the kit's: tests/kit.)"""

from __future__ import annotations

import dataclasses

import pytest

from billing.catalog import AfterCompletion
from billing.models import Subscription, db
from tests.helpers import BASE_URL, follow, local_path

RETURN = f"{BASE_URL}/account/return"

# button -> (route, route form data, flow type, hosted page form data that completes it, plan to subscribe to)
BUTTONS = {
    "change_interval": ("/account/change-interval", {}, "subscription_update_confirm", {}, "pro_monthly"),
    "change_quantity": ("/account/seats", {"quantity": "4"}, "subscription_update_confirm", {}, "business_monthly"),
    "plan_picker": ("/account/plans", {}, "subscription_update", None, "pro_monthly"),
    "cancel": ("/account/cancel", {}, "subscription_cancel", {"choice": "decline"}, "pro_monthly"),
    "pause": ("/account/pause", {}, "subscription_pause", {}, "pro_monthly"),
    "update_payment_method": (
        "/account/payment-method",
        {},
        "payment_method_update",
        {"card": "5555555555554444"},
        "pro_monthly",
    ),
    "update_details": (
        "/account/details",
        {},
        "customer_update",
        {
            "name": "Ada L",
            "email": "ada@example.com",
            "line1": "1 Main St",
            "city": "London",
            "postal_code": "N1",
            "country": "GB",
        },
        "pro_monthly",
    ),
}
ENDINGS = {
    "redirect": AfterCompletion("redirect"),
    "hosted_confirmation": AfterCompletion("hosted_confirmation", "All done, thank you!"),
    "portal_homepage": AfterCompletion("portal_homepage"),
}


def set_ending(app, button, ending):
    catalog = app.extensions["catalog"]
    portal = dataclasses.replace(catalog.portal, after_completion={button: ending})
    app.extensions["catalog"] = dataclasses.replace(catalog, portal=portal)


def portal_sessions(standin):
    return [r for r in standin.requests if r.method == "POST" and r.path == "/v1/billing_portal/sessions"]


def price_id(standin, lookup_key):
    return next(o["id"] for o in standin.state.all("price") if o.get("lookup_key") == lookup_key)


@pytest.mark.parametrize("ending_name", ENDINGS)
@pytest.mark.parametrize("button", BUTTONS)
def test_every_flow_with_every_after_completion(app, client, auth, standin, button, ending_name):
    route, data, flow_type, completion, plan = BUTTONS[button]
    set_ending(app, button, ENDINGS[ending_name])
    auth.signup()
    auth.subscribe(plan)
    user = auth.user()
    standin.clear_requests()

    response = auth.post(route, **data)
    assert response.status_code == 303, response.get_data(as_text=True)
    session_url = response.headers["Location"]
    assert session_url.startswith(f"{BASE_URL}/_standin/p/session/bps_")
    [sent] = portal_sessions(standin)
    flow = sent.params["flow_data"]
    assert flow["type"] == flow_type
    assert sent.params["customer"] == user.customer and sent.params["return_url"] == RETURN
    if flow_type.startswith("subscription_"):
        assert flow[flow_type]["subscription"] == user.subscription.stripe_subscription_id
    expected_after = {
        "redirect": {"type": "redirect", "redirect": {"return_url": RETURN}},
        "hosted_confirmation": {
            "type": "hosted_confirmation",
            "hosted_confirmation": {"custom_message": "All done, thank you!"},
        },
        "portal_homepage": {"type": "portal_homepage"},
    }[ending_name]
    assert flow["after_completion"] == expected_after

    if completion is None:  # the portal's plan picker: pick Starter monthly
        completion = {"price": price_id(standin, "starter_monthly")}
    done = client.post(local_path(session_url), data=completion)
    if ending_name == "redirect":
        assert done.status_code == 303 and done.headers["Location"] == RETURN
    else:
        page = follow(client, done).get_data(as_text=True)
        if ending_name == "hosted_confirmation":
            assert "All done, thank you!" in page
        else:
            assert "Billing for" in page  # the stand-in's portal home page
        assert f'href="{RETURN}"' in page  # and a way back to the site

    # Back on the site, the account page shows the change.
    follow(client, client.get("/account/return"))
    after = auth.user()
    page = client.get("/account").get_data(as_text=True)
    if button == "change_interval":
        assert after.subscription.lookup_key == "pro_yearly" and "$290 per year" in page
    elif button == "change_quantity":
        assert after.subscription.quantity == 4 and "× 4 seats" in page
    elif button == "plan_picker":  # Starter costs less than Pro: kept for the period's end (catalog.toml)
        assert after.subscription.lookup_key == "pro_monthly"
        assert after.subscription.scheduled_lookup_key == "starter_monthly" and "Switching to Starter" in page
    elif button == "cancel":
        assert after.subscription.cancel_at is not None and "Cancels on" in page
    elif button == "pause":
        assert after.subscription.status == "paused" and "Resume subscription" in page
    elif button == "update_payment_method":
        customer = standin.state.objects[user.customer]
        card = standin.state.objects[customer["invoice_settings"]["default_payment_method"]]
        assert card["card"]["last4"] == "4444"
    elif button == "update_details":
        assert standin.state.objects[user.customer]["name"] == "Ada L"


def test_resume_a_paused_subscription(client, auth, standin):
    auth.signup()
    auth.subscribe("pro_monthly")
    response = auth.post("/account/pause")
    follow(client, client.post(local_path(response.headers["Location"])))
    assert auth.user().subscription.status == "paused"
    standin.clear_requests()
    response = auth.post("/account/resume")
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert [(r.method, r.path) for r in standin.requests] == [
        ("POST", f"/v1/subscriptions/{auth.user().subscription.stripe_subscription_id}/resume")
    ]
    assert auth.user().subscription.status == "active"
    assert "active again" in client.get("/account").get_data(as_text=True)


def test_retention_offer_accepted_keeps_the_subscription_with_a_discount(client, auth):
    auth.signup()
    auth.subscribe("pro_monthly")
    response = auth.post("/account/cancel")
    follow(client, client.post(local_path(response.headers["Location"]), data={"choice": "accept"}))
    follow(client, client.get("/account/return"))
    sub = auth.user().subscription
    assert sub.cancel_at is None and sub.discount_coupon == "stay-with-us"
    assert "Stay with us: 30% off for 2 months" in client.get("/account").get_data(as_text=True)


# --- promotion codes -------------------------------------------------------------------------


def promo_id(standin, code):
    return next(o["id"] for o in standin.state.all("promotion_code") if o["code"] == code)


def test_a_campaign_code_is_carried_through_sign_up_to_checkout(client, auth, standin):
    page = client.get("/pricing?promo=WELCOME20").get_data(as_text=True)
    assert "Code <strong>WELCOME20</strong> will be applied" in page
    # Signed out, the code rides in the page's sign-up link (no session holds it yet).
    assert 'href="/signup?plan=pro_monthly&amp;promo=WELCOME20"' in page
    auth.signup(query="?plan=pro_monthly&promo=WELCOME20")
    assert "WELCOME20" in client.get("/?plan=pro_monthly").get_data(as_text=True)
    standin.clear_requests()
    response = auth.post("/checkout", lookup_key="pro_monthly")
    assert response.status_code == 303
    [sent] = [r for r in standin.requests if r.path == "/v1/checkout/sessions"]
    assert sent.params["discounts"] == [{"promotion_code": promo_id(standin, "WELCOME20")}]
    follow(client, client.post(local_path(response.headers["Location"])))
    assert auth.user().subscription.discount_coupon == "welcome-20"
    # Used once: the code is not offered again.
    assert "WELCOME20" not in client.get("/").get_data(as_text=True)


def test_a_campaign_code_on_a_plan_switch(client, auth, standin):
    auth.signup()
    auth.subscribe("starter_monthly")
    client.get("/pricing?promo=WELCOME20")
    standin.clear_requests()
    response = auth.post("/account/switch-plan", lookup_key="pro_monthly")
    assert response.status_code == 303
    [sent] = portal_sessions(standin)
    assert sent.params["flow_data"]["subscription_update_confirm"]["discounts"] == [
        {"promotion_code": promo_id(standin, "WELCOME20")}
    ]


@pytest.mark.parametrize("code", ["NOPE", "welcome20x"])
def test_an_invalid_code_is_refused_with_a_clear_message(client, auth, standin, code):
    auth.signup()
    auth.subscribe("starter_monthly")
    client.get(f"/pricing?promo={code}")
    standin.clear_requests()
    response = auth.post("/account/switch-plan", lookup_key="pro_monthly")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert portal_sessions(standin) == []
    page = client.get("/").get_data(as_text=True)
    assert f"The code {code} is not valid or has expired." in page
    assert f"Code <strong>{code}</strong>" not in page  # dropped, not offered again


def test_a_malformed_code_is_not_kept(client):
    page = client.get("/pricing?promo=<script>").get_data(as_text=True)
    assert "will be applied" not in page and "<script>" not in page


# --- eligibility is enforced on POST ---------------------------------------------------------


@pytest.mark.parametrize(
    "status, route",
    [
        ("past_due", "/account/pause"),
        ("past_due", "/account/plans"),
        ("past_due", "/account/change-interval"),
        ("canceled", "/account/cancel"),
        ("canceled", "/account/pause"),
        ("active", "/account/resume"),
        ("incomplete", "/account/cancel"),
    ],
)
def test_a_button_that_is_not_eligible_is_refused_without_a_stripe_call(app, auth, standin, status, route):
    auth.signup()
    auth.subscribe("pro_monthly")
    with app.app_context():
        db.session.scalar(db.select(Subscription)).status = status
        db.session.commit()
    standin.clear_requests()
    response = auth.post(route)
    assert response.status_code == 400
    assert standin.requests == []


def test_seats_outside_the_catalog_bounds_are_refused(auth, standin):
    auth.signup()
    auth.subscribe("business_monthly")
    standin.clear_requests()
    for quantity in ("0", "51", "-3", "abc", "1"):
        assert auth.post("/account/seats", quantity=quantity).status_code == 400
    assert standin.requests == []


def test_a_canceled_customer_can_still_reach_invoices(app, client, auth, standin):
    auth.signup()
    auth.subscribe("pro_monthly")
    with app.app_context():
        db.session.scalar(db.select(Subscription)).status = "canceled"
        db.session.commit()
    page = client.get("/account").get_data(as_text=True)
    assert "Manage billing" in page and "Cancel at period end" not in page and "Choose a plan" in page
    assert auth.post("/account/billing").status_code == 303


# --- locale ------------------------------------------------------------------------------------


def test_portal_locale_from_the_browser_then_from_the_user_choice(client, auth, standin):
    auth.signup()
    auth.subscribe("pro_monthly")
    standin.clear_requests()
    auth.client.post(
        "/account/billing",
        data={"csrf_token": auth_token(client)},
        headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"},
    )
    assert portal_sessions(standin)[-1].params["locale"] == "de"
    assert auth.post("/account/locale", locale="pt-BR").status_code == 303
    auth.client.post("/account/billing", data={"csrf_token": auth_token(client)}, headers={"Accept-Language": "de"})
    assert portal_sessions(standin)[-1].params["locale"] == "pt-BR"
    assert auth.post("/account/locale", locale="xx-YY").status_code == 400


@pytest.mark.parametrize("header, sent", [("*", None), ("*, fr;q=0.5", "fr"), ("xx-YY", None), ("", None)])
def test_a_browser_naming_no_language_stripe_has_sends_no_locale(client, auth, standin, header, sent):
    auth.signup()
    auth.subscribe("pro_monthly")
    standin.clear_requests()
    auth.client.post("/account/billing", data={"csrf_token": auth_token(client)}, headers={"Accept-Language": header})
    assert portal_sessions(standin)[-1].params.get("locale") == sent


def auth_token(client):
    from tests.helpers import csrf_token

    return csrf_token(client, "/")


def test_a_code_for_another_product_is_refused(app, client, auth, standin):
    sdk = app.extensions["stripe"].client
    sdk.v1.coupons.create(
        {"id": "biz-only", "percent_off": 10, "duration": "once", "applies_to": {"products": ["business"]}}
    )
    sdk.v1.promotion_codes.create({"code": "BIZONLY", "promotion": {"type": "coupon", "coupon": "biz-only"}})
    auth.signup()
    auth.subscribe("starter_monthly")
    client.get("/pricing?promo=BIZONLY")
    standin.clear_requests()
    response = auth.post("/account/switch-plan", lookup_key="pro_monthly")
    assert response.headers["Location"] == "/" and portal_sessions(standin) == []
    assert "The code BIZONLY does not apply to this plan." in client.get("/").get_data(as_text=True)
    # The same code on a plan it applies to goes through.
    client.get("/pricing?promo=BIZONLY")
    assert auth.post("/account/switch-plan", lookup_key="business_monthly").status_code == 303
    [sent] = portal_sessions(standin)
    assert sent.params["flow_data"]["subscription_update_confirm"]["discounts"] == [
        {"promotion_code": promo_id(standin, "BIZONLY")}
    ]


def test_a_campaign_code_reads_as_applied_only_when_it_is_known(client, standin):
    known = client.get("/pricing?promo=welcome20").get_data(as_text=True)
    assert "will be applied" in known and "20% off for 3 months" in known
    unknown = client.get("/pricing?promo=BOGUS").get_data(as_text=True)
    assert "BOGUS</strong> will be checked" in unknown and "will be applied" not in unknown
    assert standin.requests == []  # still no Stripe call for a page view
