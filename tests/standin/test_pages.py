"""The hosted pages: each flow changes state as Stripe would, then goes where
`after_completion` says; Checkout creates the subscription."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from werkzeug.test import Client

from standin import StandIn, effects, objects


def portal(client: stripe.StripeClient, customer: str, flow_data: Any = None, **extra: Any) -> Any:
    params: Any = {"customer": customer, "return_url": "http://site.test/account", **extra}
    if flow_data is not None:
        params["flow_data"] = flow_data
    return client.v1.billing_portal.sessions.create(params)


def test_checkout_creates_subscription_and_redirects(
    client: stripe.StripeClient, web: Client, catalog: Any, page_path: Any, stand_in: StandIn
) -> None:
    customer = client.v1.customers.create({"email": "ada@example.com"})
    session = client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "customer": customer.id,
            "line_items": [{"price": catalog.pro.id}],
            "success_url": "http://site.test/done?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": "http://site.test/pricing",
            "subscription_data": {"billing_mode": {"type": "flexible"}, "metadata": {"plan": "pro"}},
        }
    )
    page = web.get(page_path(session.url))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Stripe stand-in (offline test double)" in html and "$25.00" in html and "http://site.test/pricing" in html
    assert stand_in.state.all("subscription") == []

    paid = web.post(page_path(session.url))
    assert paid.status_code == 303
    assert paid.headers["Location"] == f"http://site.test/done?session_id={session.id}"
    done = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["subscription"]})
    assert (done.status, done.payment_status) == ("complete", "paid")
    sub = done.subscription
    assert (sub.status, sub.customer, sub.billing_mode.type, sub.metadata.to_dict()) == (
        "active",
        customer.id,
        "flexible",
        {"plan": "pro"},
    )
    item = sub["items"].data[0]
    assert item.price.id == catalog.pro.id and item.current_period_end - item.current_period_start >= 28 * 86400
    assert (
        client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method == sub.default_payment_method
    )
    assert client.v1.invoices.list({"customer": customer.id}).data[0].amount_paid == 2500


def test_update_confirm_changes_price_applies_discount_and_redirects(
    client: stripe.StripeClient, web: Client, catalog: Any, subscribed: Any, page_path: Any
) -> None:
    customer, sub = subscribed
    coupon = client.v1.coupons.create({"percent_off": 50, "duration": "once"})
    item = sub["items"].data[0]
    session = portal(
        client,
        customer.id,
        {
            "type": "subscription_update_confirm",
            "subscription_update_confirm": {
                "subscription": sub.id,
                "items": [{"id": item.id, "price": catalog.pro.id, "quantity": 2}],
                "discounts": [{"coupon": coupon.id}],
            },
            "after_completion": {"type": "redirect", "redirect": {"return_url": "http://site.test/account?changed=1"}},
        },
    )
    html = web.get(page_path(session.url)).get_data(as_text=True)
    assert "Basic" in html and "Pro" in html and "$50.00" in html and "50% off" in html

    response = web.post(page_path(session.url))
    assert (response.status_code, response.headers["Location"]) == (303, "http://site.test/account?changed=1")
    after = client.v1.subscriptions.retrieve(sub.id, {"expand": ["discounts", "latest_invoice"]})
    assert (after["items"].data[0].price.id, after["items"].data[0].quantity) == (catalog.pro.id, 2)
    assert after.discounts[0].source.coupon == coupon.id
    # The configuration's proration_behavior is Stripe's default, `none`: nothing is billed until renewal.
    assert after.latest_invoice.billing_reason == "subscription_create"


def test_update_confirm_with_a_declining_card_changes_nothing(
    client: stripe.StripeClient, web: Client, catalog: Any, subscribed: Any, page_path: Any, stand_in: StandIn
) -> None:
    customer, sub = subscribed
    # A change billed now (with `none` nothing is charged, so nothing can be declined).
    client.v1.billing_portal.configurations.update(
        catalog.configuration.id, {"features": {"subscription_update": {"proration_behavior": "always_invoice"}}}
    )
    pm_session = portal(client, customer.id, {"type": "payment_method_update"})
    web.post(page_path(pm_session.url), data={"card": "4000000000000341"})
    session = portal(
        client,
        customer.id,
        {
            "type": "subscription_update_confirm",
            "subscription_update_confirm": {
                "subscription": sub.id,
                "items": [{"id": sub["items"].data[0].id, "price": catalog.pro.id}],
            },
        },
    )
    response = web.post(page_path(session.url))
    assert response.status_code == 200 and "Your card was declined." in response.get_data(as_text=True)
    assert client.v1.subscriptions.retrieve(sub.id)["items"].data[0].price.id == catalog.basic.id


def test_update_is_a_plan_picker_then_hosted_confirmation(
    client: stripe.StripeClient, web: Client, catalog: Any, subscribed: Any, page_path: Any
) -> None:
    customer, sub = subscribed
    session = portal(
        client,
        customer.id,
        {
            "type": "subscription_update",
            "subscription_update": {"subscription": sub.id},
            "after_completion": {
                "type": "hosted_confirmation",
                "hosted_confirmation": {"custom_message": "Enjoy Pro!"},
            },
        },
    )
    html = web.get(page_path(session.url)).get_data(as_text=True)
    assert catalog.pro.id in html and catalog.other.id not in html
    assert web.post(page_path(session.url), data={"price": catalog.other.id}).status_code == 200  # not offered: refused
    assert client.v1.subscriptions.retrieve(sub.id)["items"].data[0].price.id == catalog.basic.id

    response = web.post(page_path(session.url), data={"price": catalog.pro.id})
    assert response.status_code == 303
    confirmation = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "Enjoy Pro!" in confirmation and "http://site.test/account" in confirmation
    assert client.v1.subscriptions.retrieve(sub.id)["items"].data[0].price.id == catalog.pro.id


@pytest.mark.parametrize(("billing_mode", "cancel_at_period_end"), [("flexible", False), ("classic", True)])
def test_cancel_at_period_end_per_billing_mode(
    client: stripe.StripeClient,
    web: Client,
    catalog: Any,
    subscribe: Any,
    page_path: Any,
    billing_mode: str,
    cancel_at_period_end: bool,
) -> None:
    customer, sub = subscribe(catalog.basic.id, billing_mode=billing_mode)
    session = portal(
        client, customer.id, {"type": "subscription_cancel", "subscription_cancel": {"subscription": sub.id}}
    )
    response = web.post(page_path(session.url))
    # No after_completion: the portal home page of the same session.
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/p/session/{session.id}/home")
    after = client.v1.subscriptions.retrieve(sub.id)
    assert after.status == "active"
    assert after.cancel_at == sub["items"].data[0].current_period_end
    assert after.cancel_at_period_end is cancel_at_period_end
    assert "Cancels" in web.get(response.headers["Location"]).get_data(as_text=True)


def test_cancel_immediately(
    client: stripe.StripeClient, web: Client, catalog: Any, subscribed: Any, page_path: Any
) -> None:
    client.v1.billing_portal.configurations.update(
        catalog.configuration.id, {"features": {"subscription_cancel": {"mode": "immediately"}}}
    )
    customer, sub = subscribed
    session = portal(
        client,
        customer.id,
        {
            "type": "subscription_cancel",
            "subscription_cancel": {"subscription": sub.id},
            "after_completion": {"type": "portal_homepage"},
        },
    )
    web.post(page_path(session.url))
    after = client.v1.subscriptions.retrieve(sub.id)
    assert after.status == "canceled" and after.canceled_at and after.ended_at
    assert client.v1.subscriptions.list({"customer": customer.id}).data == []
    assert len(client.v1.subscriptions.list({"customer": customer.id, "status": "all"}).data) == 1


@pytest.mark.parametrize(("choice", "canceled"), [("accept", False), ("decline", True)])
def test_cancel_with_retention_offer(
    client: stripe.StripeClient, web: Client, catalog: Any, subscribed: Any, page_path: Any, choice: str, canceled: bool
) -> None:
    customer, sub = subscribed
    coupon = client.v1.coupons.create(
        {"percent_off": 30, "duration": "repeating", "duration_in_months": 3, "name": "Stay"}
    )
    session = portal(
        client,
        customer.id,
        {
            "type": "subscription_cancel",
            "subscription_cancel": {
                "subscription": sub.id,
                "retention": {"type": "coupon_offer", "coupon_offer": {"coupon": coupon.id}},
            },
        },
    )
    assert "30% off for 3 months" in web.get(page_path(session.url)).get_data(as_text=True)
    web.post(page_path(session.url), data={"choice": choice})
    after = client.v1.subscriptions.retrieve(sub.id)
    assert (after.cancel_at is not None) is canceled
    assert len(after.discounts) == (0 if canceled else 1)


def enable_cancellation_reasons(client: stripe.StripeClient, catalog: Any, options: list[str]) -> None:
    client.v1.billing_portal.configurations.update(
        catalog.configuration.id,
        {"features": {"subscription_cancel": {"cancellation_reason": {"enabled": True, "options": options}}}},
    )


def cancel_session(client: stripe.StripeClient, customer: Any, sub: Any, retention: Any = None) -> Any:
    data: Any = {"subscription": sub.id}
    if retention is not None:
        data["retention"] = {"type": "coupon_offer", "coupon_offer": {"coupon": retention}}
    return portal(client, customer.id, {"type": "subscription_cancel", "subscription_cancel": data})


def test_the_cancel_step_asks_why_with_the_configured_reasons_and_records_the_answers(
    client: stripe.StripeClient, web: Client, catalog: Any, subscribed: Any, page_path: Any
) -> None:
    customer, sub = subscribed
    enable_cancellation_reasons(client, catalog, ["too_expensive", "unused", "other"])
    session = cancel_session(client, customer, sub)
    html = web.get(page_path(session.url)).get_data(as_text=True)
    assert "Why are you canceling?" in html and '<option value="">Prefer not to say</option>' in html
    assert '<option value="too_expensive">It&#39;s too expensive</option>' in html
    assert '<option value="unused">' in html and "missing_features" not in html  # only what is configured

    web.post(page_path(session.url), data={"feedback": "unused", "comment": "  Only needed it for a month.  "})
    details = client.v1.subscriptions.retrieve(sub.id).cancellation_details
    assert (details.reason, details.feedback, details.comment) == (
        "cancellation_requested",
        "unused",
        "Only needed it for a month.",
    )


def test_the_reason_is_optional_and_a_reason_not_offered_is_refused(
    client: stripe.StripeClient, web: Client, catalog: Any, subscribed: Any, page_path: Any
) -> None:
    customer, sub = subscribed
    enable_cancellation_reasons(client, catalog, ["too_expensive"])
    session = cancel_session(client, customer, sub)
    refused = web.post(page_path(session.url), data={"feedback": "low_quality"})
    assert refused.status_code == 200 and "Choose one of the reasons listed." in refused.get_data(as_text=True)
    too_long = web.post(page_path(session.url), data={"comment": "x" * 5001})
    assert "Your comment is too long: 5,000 characters at most." in too_long.get_data(as_text=True)
    assert client.v1.subscriptions.retrieve(sub.id).cancel_at is None

    web.post(page_path(session.url), data={"feedback": ""})
    after = client.v1.subscriptions.retrieve(sub.id)
    assert after.cancel_at is not None
    assert (after.cancellation_details.reason, after.cancellation_details.feedback) == ("cancellation_requested", None)


def test_without_cancellation_reasons_the_portal_asks_nothing(
    client: stripe.StripeClient, web: Client, subscribed: Any, page_path: Any
) -> None:
    customer, sub = subscribed
    session = cancel_session(client, customer, sub)
    assert "Why are you canceling?" not in web.get(page_path(session.url)).get_data(as_text=True)
    web.post(page_path(session.url), data={"feedback": "too_expensive"})  # not asked: ignored
    assert client.v1.subscriptions.retrieve(sub.id).cancellation_details.feedback is None


def test_taking_the_retention_offer_records_no_feedback(
    client: stripe.StripeClient, web: Client, catalog: Any, subscribed: Any, page_path: Any
) -> None:
    customer, sub = subscribed
    enable_cancellation_reasons(client, catalog, ["too_expensive"])
    coupon = client.v1.coupons.create({"percent_off": 30, "duration": "once"})
    session = cancel_session(client, customer, sub, retention=coupon.id)
    html = web.get(page_path(session.url)).get_data(as_text=True)
    assert html.index("Accept offer") < html.index("Why are you canceling?") < html.index("No thanks, cancel")
    web.post(page_path(session.url), data={"choice": "accept", "feedback": "too_expensive"})
    after = client.v1.subscriptions.retrieve(sub.id)
    assert after.cancel_at is None and after.cancellation_details.feedback is None


def test_pause_then_resume_from_home(client: stripe.StripeClient, web: Client, subscribed: Any, page_path: Any) -> None:
    customer, sub = subscribed
    session = portal(
        client, customer.id, {"type": "subscription_pause", "subscription_pause": {"subscription": sub.id}}
    )
    assert "Pause subscription" in web.get(page_path(session.url)).get_data(as_text=True)
    home = web.post(page_path(session.url)).headers["Location"]
    after = client.v1.subscriptions.retrieve(sub.id)
    # The subscription itself is paused (API 2026-09-30+); pause_collection is another feature, untouched.
    assert (after.status, after.pause_collection) == ("paused", None)
    assert after.status_details.paused.subscription.type == "pause_requested"
    html = web.get(home).get_data(as_text=True)
    assert "Resume subscription" in html and "Pause subscription" not in html and "Update plan" not in html
    assert "Cancel plan" in html  # a paused subscription can still be canceled

    assert web.post(f"/p/session/{session.id}/resume?subscription={sub.id}").status_code == 303
    resumed = client.v1.subscriptions.retrieve(sub.id)
    assert (resumed.status, resumed.status_details, resumed.pause_collection) == ("active", None, None)
    # Resumed where it left off: same period, nothing charged.
    assert resumed["items"].data[0].current_period_end == sub["items"].data[0].current_period_end
    assert resumed.latest_invoice == sub.latest_invoice

    again = web.post(f"/p/session/{session.id}/resume?subscription={sub.id}")
    assert again.status_code == 200 and "is not paused" in again.get_data(as_text=True)


def test_a_flow_made_before_pausing_refuses_to_update(
    client: stripe.StripeClient, web: Client, catalog: Any, subscribed: Any, page_path: Any, stand_in: StandIn
) -> None:
    customer, sub = subscribed
    update = portal(
        client,
        customer.id,
        {
            "type": "subscription_update_confirm",
            "subscription_update_confirm": {
                "subscription": sub.id,
                "items": [{"id": sub["items"].data[0].id, "price": catalog.pro.id}],
            },
        },
    )
    client.v1.subscriptions.pause(sub.id)
    response = web.post(page_path(update.url))
    assert response.status_code == 200 and "is paused and cannot be updated" in response.get_data(as_text=True)
    assert client.v1.subscriptions.retrieve(sub.id)["items"].data[0].price.id == catalog.basic.id
    # Pausing again from a home page link is refused too.
    home = portal(client, customer.id)
    again = web.post(f"/p/session/{home.id}/do/subscription_pause?subscription={sub.id}")
    assert again.status_code == 200 and "already paused" in again.get_data(as_text=True)


def test_update_confirm_with_a_promotion_code_discounts_the_invoice(
    client: stripe.StripeClient, web: Client, catalog: Any, subscribed: Any, page_path: Any, stand_in: StandIn
) -> None:
    customer, sub = subscribed
    coupon = client.v1.coupons.create({"percent_off": 20, "duration": "forever", "applies_to": {"products": ["pro"]}})
    code = client.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "PRO20"})
    session = portal(
        client,
        customer.id,
        {
            "type": "subscription_update_confirm",
            "subscription_update_confirm": {
                "subscription": sub.id,
                "items": [{"id": sub["items"].data[0].id, "price": catalog.pro.id}],
                "discounts": [{"promotion_code": code.id}],
            },
        },
    )
    assert "Code PRO20" in web.get(page_path(session.url)).get_data(as_text=True)
    assert web.post(page_path(session.url)).status_code == 303

    after = client.v1.subscriptions.retrieve(sub.id, {"expand": ["discounts", "latest_invoice"]})
    [discount] = after.discounts
    assert discount.id.startswith("di_") and (discount.source.coupon, discount.promotion_code) == (coupon.id, code.id)
    assert (discount.subscription, discount.customer) == (sub.id, customer.id)
    # Nothing is billed now (proration_behavior `none`); the renewal carries the discount.
    end = stand_in.state.objects[sub.id]["items"]["data"][0]["current_period_end"]
    with stand_in.state.lock, objects.frozen_at(end):
        effects._change(stand_in.state, stand_in.state.objects[sub.id], end)
    invoice = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]}).latest_invoice
    assert (invoice.subtotal, invoice.total, invoice.amount_paid) == (2500, 2000, 2000)
    assert [(d.amount, d.discount) for d in invoice.total_discount_amounts] == [(500, discount.id)]
    assert invoice.discounts == [discount.id]
    assert client.v1.promotion_codes.retrieve(code.id).times_redeemed == 1


def test_payment_method_update(client: stripe.StripeClient, web: Client, subscribed: Any, page_path: Any) -> None:
    customer, sub = subscribed
    session = portal(
        client,
        customer.id,
        {
            "type": "payment_method_update",
            "after_completion": {"type": "redirect", "redirect": {"return_url": "http://site.test/x"}},
        },
    )
    assert (
        web.post(page_path(session.url), data={"card": "5555555555554444"}).headers["Location"] == "http://site.test/x"
    )
    default = client.v1.customers.retrieve(
        customer.id, {"expand": ["invoice_settings.default_payment_method"]}
    ).invoice_settings.default_payment_method
    assert (default.card.brand, default.card.last4) == ("mastercard", "4444")
    assert client.v1.subscriptions.retrieve(sub.id).default_payment_method == default.id


def test_customer_update(client: stripe.StripeClient, web: Client, subscribed: Any, page_path: Any) -> None:
    customer, _ = subscribed
    session = portal(client, customer.id, {"type": "customer_update"})
    web.post(
        page_path(session.url),
        data={
            "name": "Ada Lovelace",
            "email": "ada@lovelace.test",
            "line1": "1 Main St",
            "city": "London",
            "postal_code": "N1",
            "country": "GB",
        },
    )
    after = client.v1.customers.retrieve(customer.id)
    assert (after.name, after.email, after.address.city, after.address.country) == (
        "Ada Lovelace",
        "ada@lovelace.test",
        "London",
        "GB",
    )


def test_portal_home_lists_everything_and_acts_only_on_own_subscriptions(
    client: stripe.StripeClient, web: Client, catalog: Any, subscribed: Any, subscribe: Any, page_path: Any
) -> None:
    customer, sub = subscribed
    _, someone_elses = subscribe(catalog.pro.id)
    session = portal(client, customer.id)
    html = web.get(page_path(session.url)).get_data(as_text=True)
    for expected in (
        "Basic",
        "$10.00",
        "Renews",
        "Visa ending in 4242",
        "paid",
        "Update plan",
        "Cancel plan",
        "http://site.test/account",
    ):
        assert expected in html, expected
    own = f"/p/session/{session.id}/do/subscription_cancel?subscription="
    assert web.get(own + sub.id).status_code == 200
    assert web.get(own + someone_elses.id).status_code == 404
    assert web.post(own + someone_elses.id).status_code == 404
    # Acting from home returns to home.
    assert web.post(own + sub.id).headers["Location"].endswith(f"/p/session/{session.id}/home")


def test_pages_respect_a_mount_prefix(client: stripe.StripeClient, stand_in: StandIn, subscribed: Any) -> None:
    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.wrappers import Response

    mounted = Client(DispatcherMiddleware(Response("site"), {"/_standin": stand_in.wsgi_app}))
    customer, _ = subscribed
    session = portal(client, customer.id)
    html = mounted.get(f"/_standin/p/session/{session.id}").get_data(as_text=True)
    assert f'href="/_standin/p/session/{session.id}/do/customer_update"' in html
    assert 'href="/_standin/static/standin.css"' in html


def test_renew_a_scheduled_cancellation_from_home(
    client: stripe.StripeClient, web: Client, subscribed: Any, page_path: Any
) -> None:
    customer, sub = subscribed
    session = portal(
        client, customer.id, {"type": "subscription_cancel", "subscription_cancel": {"subscription": sub.id}}
    )
    home = web.post(page_path(session.url)).headers["Location"]
    assert client.v1.subscriptions.retrieve(sub.id).cancel_at is not None
    assert "Renew plan" in web.get(home).get_data(as_text=True)
    web.post(f"/p/session/{session.id}/renew?subscription={sub.id}")
    after = client.v1.subscriptions.retrieve(sub.id)
    assert (after.cancel_at, after.cancel_at_period_end, after.status) == (None, False, "active")


@pytest.mark.parametrize("choice", ["accept", "decline"])
def test_accepted_retention_offer_confirms_the_discount_not_the_cancellation(
    client: stripe.StripeClient, web: Client, catalog: Any, subscribed: Any, page_path: Any, choice: str
) -> None:
    customer, sub = subscribed
    coupon = client.v1.coupons.create(
        {"percent_off": 30, "duration": "repeating", "duration_in_months": 3, "name": "Stay"}
    )
    cancel_message = "Your cancellation is confirmed. We are sorry to see you go."
    session = portal(
        client,
        customer.id,
        {
            "type": "subscription_cancel",
            "subscription_cancel": {
                "subscription": sub.id,
                "retention": {"type": "coupon_offer", "coupon_offer": {"coupon": coupon.id}},
            },
            "after_completion": {
                "type": "hosted_confirmation",
                "hosted_confirmation": {"custom_message": cancel_message},
            },
        },
    )
    response = web.post(page_path(session.url), data={"choice": choice})
    assert response.status_code == 303
    html = web.get(response.headers["Location"]).get_data(as_text=True)
    if choice == "accept":
        assert cancel_message not in html and "Offer accepted" in html
        assert "Stay: 30% off for 3 months applied" in html and "Nothing was canceled" in html
        assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    else:
        assert cancel_message in html and "Offer accepted" not in html
        # The "offer accepted" page exists only for a kept subscription.
        assert web.get(page_path(session.url) + "/kept").status_code == 404


def test_a_coupon_whose_name_states_its_terms_is_not_described_twice() -> None:
    from standin.pages import _describe_coupon

    named = {
        "id": "c",
        "name": "Stay: 30% off for 2 months",
        "percent_off": 30,
        "duration": "repeating",
        "duration_in_months": 2,
    }
    assert _describe_coupon(named) == "Stay: 30% off for 2 months"
    plain = {**named, "name": "Stay with us"}
    assert _describe_coupon(plain) == "Stay with us: 30% off for 2 months"
