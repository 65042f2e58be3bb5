"""The stand-in's API through the real SDK: what it accepts, refuses and stores."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from werkzeug.test import Client

from standin import StandIn


def test_validation_errors_reach_the_sdk_with_param(client: stripe.StripeClient, catalog: Any, subscribed: Any) -> None:
    customer, subscription = subscribed
    base = {"customer": customer.id, "configuration": catalog.configuration.id}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"flow_data": {"type": "customer_update", "foo": "x"}}, "flow_data[foo]"),  # unknown nested key
        ({"flow_data": {"subscription_update": {"subscription": subscription.id}}}, "flow_data[type]"),  # missing
        ({"flow_data": {"type": "subscription_explode"}}, "flow_data[type]"),  # bad enum value
    ]
    for extra, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as info:
            client.v1.billing_portal.sessions.create({**base, **extra})  # type: ignore[typeddict-item]
        assert info.value.http_status == 400
        assert info.value.param == param
        assert info.value.error is not None and info.value.error.type == "invalid_request_error"


def test_get_query_params_are_validated(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscriptions.list({"status": "sleeping"})  # type: ignore[typeddict-item]
    assert info.value.param == "status"


def test_requests_are_recorded_with_decoded_params(client: stripe.StripeClient, stand_in: StandIn) -> None:
    stand_in.clear_requests()
    client.v1.customers.create({"email": "a@example.com", "metadata": {"user_id": "7"}, "preferred_locales": ["de"]})
    [recorded] = stand_in.requests
    assert (recorded.method, recorded.path) == ("POST", "/v1/customers")
    assert recorded.params == {"email": "a@example.com", "metadata": {"user_id": "7"}, "preferred_locales": ["de"]}
    assert recorded.headers["Authorization"] == "Bearer sk_test_x"


def test_auth_is_required(stand_in: StandIn) -> None:
    web = Client(stand_in.wsgi_app)
    assert web.get("/v1/customers/cus_1").status_code == 401
    live = stripe.StripeClient(
        "sk_" + "live_123456789", http_client=stand_in.http_client(), base_addresses={"api": "http://x"}
    )
    with pytest.raises(stripe.AuthenticationError, match="Invalid API Key provided"):
        live.v1.customers.create()


def test_missing_objects_are_404_by_id_and_400_by_param(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.retrieve("cus_123")
    assert (info.value.http_status, info.value.code, str(info.value.user_message)) == (
        404,
        "resource_missing",
        "No such customer: 'cus_123'",
    )
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.billing_portal.sessions.create({"customer": "cus_123"})
    assert (info.value.http_status, info.value.param) == (400, "customer")


def test_idempotency_key_replays_the_first_answer(client: stripe.StripeClient, stand_in: StandIn) -> None:
    first = client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "k1"})
    again = client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "k1"})
    assert again.id == first.id
    assert len(stand_in.state.all("customer")) == 1
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create({"email": "b@example.com"}, {"idempotency_key": "k1"})


def test_fail_next_and_sdk_retries(client: stripe.StripeClient, stand_in: StandIn) -> None:
    # One injected 500: the SDK retries with the same Idempotency-Key and succeeds once.
    stand_in.fail_next("POST", "/v1/customers")
    client.v1.customers.create({"email": "a@example.com"})
    posts = [r for r in stand_in.requests if r.path == "/v1/customers"]
    assert len(posts) == 2 and posts[0].headers["Idempotency-Key"] == posts[1].headers["Idempotency-Key"]
    assert len(stand_in.state.all("customer")) == 1

    stand_in.fail_next(
        "POST",
        "/v1/billing_portal",
        status=400,
        error_type="invalid_request_error",
        message="Nope.",
        code="parameter_invalid_empty",
    )
    with pytest.raises(stripe.InvalidRequestError, match="Nope.") as info:
        client.v1.billing_portal.sessions.create({"customer": "cus_x"})
    assert info.value.code == "parameter_invalid_empty"


def test_catalog_endpoints(client: stripe.StripeClient, catalog: Any) -> None:
    assert client.v1.products.retrieve("pro").name == "Pro"
    assert client.v1.products.update("pro", {"default_price": catalog.pro.id}).default_price == catalog.pro.id
    assert [p.id for p in client.v1.products.list({"ids": ["basic"]}).data] == ["basic"]
    found = client.v1.prices.list({"lookup_keys": ["pro_monthly"], "active": True, "expand": ["data.product"]})
    assert [(p.id, p.product.name) for p in found.data] == [(catalog.pro.id, "Pro")]
    assert client.v1.prices.retrieve(catalog.basic.id).recurring.interval == "month"
    assert client.v1.prices.update(catalog.basic.id, {"nickname": "Basic"}).nickname == "Basic"
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.products.create({"id": "pro", "name": "Again"})
    assert info.value.code == "resource_already_exists"


def test_lookup_keys_are_unique_unless_transferred(client: stripe.StripeClient, catalog: Any) -> None:
    params: Any = {
        "product": "pro",
        "unit_amount": 3000,
        "currency": "usd",
        "recurring": {"interval": "month"},
        "lookup_key": "pro_monthly",
    }
    with pytest.raises(stripe.InvalidRequestError, match="already uses that lookup key"):
        client.v1.prices.create(params)
    new = client.v1.prices.create({**params, "transfer_lookup_key": True})
    assert new.lookup_key == "pro_monthly"
    assert client.v1.prices.retrieve(catalog.pro.id).lookup_key is None


def test_coupons_and_promotion_codes(client: stripe.StripeClient) -> None:
    coupon = client.v1.coupons.create(
        {"percent_off": 20, "duration": "repeating", "duration_in_months": 3, "id": "STAY20"}
    )
    assert client.v1.coupons.retrieve("STAY20").percent_off == 20
    assert [c.id for c in client.v1.coupons.list().data] == [coupon.id]
    code = client.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "WELCOME"})
    assert client.v1.promotion_codes.retrieve(code.id).code == "WELCOME"
    assert [c.id for c in client.v1.promotion_codes.list({"code": "welcome", "active": True}).data] == [code.id]
    with pytest.raises(stripe.InvalidRequestError, match="percent_off or amount_off"):
        client.v1.coupons.create({"duration": "once"})


def test_portal_configuration_rules(client: stripe.StripeClient, catalog: Any) -> None:
    assert catalog.configuration.is_default is True
    second = client.v1.billing_portal.configurations.create({"features": {"invoice_history": {"enabled": True}}})
    assert second.is_default is False
    listed = client.v1.billing_portal.configurations.list({"is_default": True})
    assert [c.id for c in listed.data] == [catalog.configuration.id]

    with pytest.raises(stripe.InvalidRequestError, match="payment method update is disabled"):
        client.v1.billing_portal.configurations.update(
            catalog.configuration.id, {"features": {"payment_method_update": {"enabled": False}}}
        )
    eleven = [{"product": "basic", "prices": [catalog.basic.id]}] * 11
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.billing_portal.configurations.update(
            catalog.configuration.id, {"features": {"subscription_update": {"products": eleven}}}
        )
    assert info.value.param == "features[subscription_update][products]"
    updated = client.v1.billing_portal.configurations.update(
        catalog.configuration.id, {"features": {"subscription_cancel": {"mode": "immediately"}}}
    )
    assert updated.features.subscription_cancel.mode == "immediately"
    assert client.v1.billing_portal.configurations.retrieve(second.id).id == second.id


def test_portal_session_without_any_configuration(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    with pytest.raises(stripe.InvalidRequestError, match="default configuration has not been created"):
        client.v1.billing_portal.sessions.create({"customer": customer.id})


def test_portal_session_shape(client: stripe.StripeClient, catalog: Any, subscribed: Any) -> None:
    customer, subscription = subscribed
    item = subscription["items"].data[0]
    session = client.v1.billing_portal.sessions.create(
        {
            "customer": customer.id,
            "return_url": "http://site.test/account",
            "flow_data": {
                "type": "subscription_update_confirm",
                "subscription_update_confirm": {
                    "subscription": subscription.id,
                    "items": [{"id": item.id, "price": catalog.pro.id}],
                },
                "after_completion": {"type": "redirect", "redirect": {"return_url": "http://site.test/back"}},
            },
        }
    )
    assert session.id.startswith("bps_") and session.url.startswith("http://site.test/_standin/p/session/")
    assert session.configuration == catalog.configuration.id  # the default one
    flow = session.flow.to_dict()
    assert flow["subscription_update_confirm"]["items"] == [
        {"id": item.id, "price": catalog.pro.id, "quantity": 1}
    ]  # echoed: the current one
    assert flow["after_completion"] == {
        "type": "redirect",
        "redirect": {"return_url": "http://site.test/back"},
        "hosted_confirmation": None,
    }
    assert flow["subscription_cancel"] is None


def flow_error(
    client: stripe.StripeClient, customer: str, flow_data: Any, configuration: str | None = None
) -> stripe.InvalidRequestError:
    params: Any = {"customer": customer, "flow_data": flow_data}
    if configuration:
        params["configuration"] = configuration
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.billing_portal.sessions.create(params)
    return info.value


def test_portal_session_flow_checks(
    client: stripe.StripeClient, catalog: Any, subscribed: Any, subscribe: Any, stand_in: StandIn
) -> None:
    customer, subscription = subscribed
    item = subscription["items"].data[0]

    def confirm(**item_fields: Any) -> Any:
        return {
            "type": "subscription_update_confirm",
            "subscription_update_confirm": {"subscription": subscription.id, "items": [{"id": item.id, **item_fields}]},
        }

    assert (
        "not in the portal configuration"
        in flow_error(client, customer.id, confirm(price=catalog.other.id)).user_message
    )
    two_items = confirm(price=catalog.pro.id)
    two_items["subscription_update_confirm"]["items"].append({"id": item.id})
    assert "exactly one item" in flow_error(client, customer.id, two_items).user_message
    wrong_item = confirm(price=catalog.pro.id)
    wrong_item["subscription_update_confirm"]["items"][0]["id"] = "si_other"
    assert flow_error(client, customer.id, wrong_item).param.endswith("[items][0][id]")

    stranger = client.v1.customers.create()
    assert (
        "does not belong"
        in flow_error(
            client,
            stranger.id,
            {"type": "subscription_cancel", "subscription_cancel": {"subscription": subscription.id}},
        ).user_message
    )

    retention = {
        "type": "subscription_cancel",
        "subscription_cancel": {
            "subscription": subscription.id,
            "retention": {"type": "coupon_offer", "coupon_offer": {"coupon": "NOPE"}},
        },
    }
    assert flow_error(client, customer.id, retention).code == "resource_missing"
    assert (
        "Missing required param: flow_data[after_completion][redirect]"
        in flow_error(
            client, customer.id, {"type": "customer_update", "after_completion": {"type": "redirect"}}
        ).user_message
    )

    # Pausing needs flexible billing mode.
    _, classic = subscribe(catalog.basic.id, billing_mode="classic")
    classic_customer = classic.customer
    assert (
        "flexible"
        in flow_error(
            client, classic_customer, {"type": "subscription_pause", "subscription_pause": {"subscription": classic.id}}
        ).user_message
    )

    # Features switched off refuse their flows.
    no_cancel = client.v1.billing_portal.configurations.create(
        {"features": {"subscription_cancel": {"enabled": False}}}
    )
    assert (
        "subscription_cancel"
        in flow_error(
            client,
            customer.id,
            {"type": "subscription_cancel", "subscription_cancel": {"subscription": subscription.id}},
            no_cancel.id,
        ).user_message
    )
    assert (
        "subscription_update"
        in flow_error(
            client,
            customer.id,
            {"type": "subscription_update", "subscription_update": {"subscription": subscription.id}},
            no_cancel.id,
        ).user_message
    )

    # A canceled subscription cannot be updated, paused or canceled again.
    stand_in.state.objects[subscription.id]["status"] = "canceled"
    assert "canceled" in flow_error(client, customer.id, confirm(price=catalog.pro.id)).user_message


def test_subscription_and_invoice_reads(client: stripe.StripeClient, catalog: Any, subscribed: Any) -> None:
    customer, subscription = subscribed
    item = subscription["items"].data[0]
    assert subscription.billing_mode.type == "flexible"
    assert item.current_period_end > item.current_period_start
    assert item.price.id == catalog.basic.id and subscription.status == "active"
    assert [s.id for s in client.v1.subscriptions.list({"customer": customer.id, "price": catalog.basic.id}).data] == [
        subscription.id
    ]
    assert client.v1.subscriptions.list({"customer": customer.id, "price": catalog.pro.id}).data == []
    fetched = client.v1.subscriptions.retrieve(
        subscription.id, {"expand": ["latest_invoice", "default_payment_method"]}
    )
    assert fetched.latest_invoice.status == "paid" and fetched.latest_invoice.amount_paid == 1000
    assert fetched.default_payment_method.card.last4 == "4242"
    assert [i.id for i in client.v1.invoices.list({"customer": customer.id}).data] == [fetched.latest_invoice.id]
    methods = client.v1.customers.payment_methods.list(customer.id)
    assert [m.id for m in methods.data] == [fetched.default_payment_method.id]
    assert client.v1.payment_methods.retrieve(methods.data[0].id).customer == customer.id
    updated = client.v1.customers.update(
        customer.id,
        {
            "name": "Ada L.",
            "address": {"city": "Paris"},
            "invoice_settings": {"default_payment_method": methods.data[0].id},
        },
    )
    assert (updated.name, updated.address.city) == ("Ada L.", "Paris")


def test_checkout_session_shape_and_rules(client: stripe.StripeClient, catalog: Any) -> None:
    customer = client.v1.customers.create()
    params: Any = {
        "mode": "subscription",
        "customer": customer.id,
        "line_items": [{"price": catalog.pro.id, "quantity": 2}],
        "success_url": "http://site.test/ok",
        "client_reference_id": "user-7",
        "metadata": {"user_id": "7"},
    }
    session = client.v1.checkout.sessions.create(params)
    assert session.id.startswith("cs_test_") and session.url == f"http://site.test/_standin/c/pay/{session.id}"
    assert (session.status, session.amount_total, session.client_reference_id) == ("open", 5000, "user-7")
    assert "line_items" not in session
    expanded = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["line_items"]})
    assert expanded.line_items.data[0].quantity == 2
    with pytest.raises(stripe.InvalidRequestError, match="only specify one"):
        client.v1.checkout.sessions.create({**params, "allow_promotion_codes": True, "discounts": [{"coupon": "X"}]})
    with pytest.raises(stripe.InvalidRequestError, match="cannot be expanded"):
        client.v1.checkout.sessions.retrieve(session.id, {"expand": ["client_reference_id"]})


def test_pause_and_resume_endpoints(client: stripe.StripeClient, catalog: Any, subscribed: Any) -> None:
    customer, sub = subscribed
    paused = client.v1.subscriptions.pause(sub.id)
    assert (paused.status, paused.pause_collection) == ("paused", None)
    details = paused.status_details.to_dict()
    assert details == {
        "paused": {
            "subscription": {"type": "pause_requested"},
            "type": "subscription",
            "transitioned_at": details["paused"]["transitioned_at"],
        }
    }
    assert details["paused"]["transitioned_at"] >= sub.created
    assert [s.id for s in client.v1.subscriptions.list({"status": "paused"}).data] == [sub.id]
    with pytest.raises(stripe.InvalidRequestError, match="already paused") as info:
        client.v1.subscriptions.pause(sub.id)
    assert info.value.http_status == 400 and info.value.error is not None
    assert info.value.error.type == "invalid_request_error"

    resumed = client.v1.subscriptions.resume(
        sub.id, {"billing_cycle_anchor": {"type": "unchanged"}, "expand": ["discounts"]}
    )
    assert (resumed.status, resumed.status_details) == ("active", None)
    assert resumed["items"].data[0].current_period_start == sub["items"].data[0].current_period_start
    assert resumed.latest_invoice == sub.latest_invoice  # nothing charged
    with pytest.raises(stripe.InvalidRequestError, match="not paused") as info:
        client.v1.subscriptions.resume(sub.id)
    assert info.value.http_status == 400
    # The new field is in every subscription, null unless paused.
    assert "status_details" in client.v1.subscriptions.retrieve(sub.id) and resumed.status_details is None


def test_pause_refusals(client: stripe.StripeClient, catalog: Any, subscribe: Any, stand_in: StandIn) -> None:
    _, classic = subscribe(catalog.basic.id, billing_mode="classic")
    with pytest.raises(stripe.InvalidRequestError, match=r"flexible billing mode \(billing_mode\[type\]=flexible\)"):
        client.v1.subscriptions.pause(classic.id)
    _, flexible = subscribe(catalog.basic.id)
    stand_in.state.objects[flexible.id]["status"] = "past_due"
    with pytest.raises(stripe.InvalidRequestError, match="status is past_due; only active or trialing"):
        client.v1.subscriptions.pause(flexible.id)
    stand_in.state.objects[flexible.id]["status"] = "active"
    with pytest.raises(stripe.InvalidRequestError, match="does not implement the param invoicing_behavior") as info:
        client.v1.subscriptions.pause(flexible.id, {"invoicing_behavior": "invoice"})
    assert info.value.param == "invoicing_behavior"
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscriptions.pause(flexible.id, {"type": "forever"})  # type: ignore[typeddict-item]
    assert info.value.param == "type"
    assert stand_in.state.objects[flexible.id]["status"] == "active"
    client.v1.subscriptions.pause(flexible.id, {"type": "subscription"})
    with pytest.raises(stripe.InvalidRequestError, match="does not implement the param proration_date"):
        client.v1.subscriptions.resume(flexible.id, {"proration_date": 1})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscriptions.resume(flexible.id, {"proration_behavior": "sometimes"})  # type: ignore[typeddict-item]
    assert info.value.param == "proration_behavior"
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscriptions.resume(flexible.id, {"billing_cycle_anchor": {"type": "later"}})  # type: ignore[typeddict-item]
    assert info.value.param == "billing_cycle_anchor[type]"
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscriptions.pause("sub_missing")
    assert (info.value.http_status, info.value.code) == (404, "resource_missing")


def test_resume_now_restarts_the_periods_and_charges(
    client: stripe.StripeClient, catalog: Any, subscribed: Any, stand_in: StandIn
) -> None:
    _, sub = subscribed
    stored = stand_in.state.objects[sub.id]
    month_ago = sub.created - 20 * 86400
    stored["items"]["data"][0]["current_period_start"] = month_ago
    client.v1.subscriptions.pause(sub.id)
    resumed = client.v1.subscriptions.resume(
        sub.id, {"expand": ["latest_invoice"]}
    )  # billing_cycle_anchor defaults to now
    item = resumed["items"].data[0]
    assert resumed.status == "active" and item.current_period_start >= sub.created > month_ago
    assert resumed.billing_cycle_anchor == item.current_period_start
    assert item.current_period_end > item.current_period_start + 27 * 86400
    assert resumed.latest_invoice.id != sub.latest_invoice
    assert (resumed.latest_invoice.status, resumed.latest_invoice.amount_paid) == ("paid", 1000)


def test_resume_now_with_a_declining_card_is_past_due(
    client: stripe.StripeClient, subscribed: Any, stand_in: StandIn
) -> None:
    _, sub = subscribed
    stand_in.state.objects[sub.default_payment_method]["card"]["last4"] = "0341"
    client.v1.subscriptions.pause(sub.id)
    resumed = client.v1.subscriptions.resume(
        sub.id, {"billing_cycle_anchor": {"type": "now"}, "expand": ["latest_invoice"]}
    )
    assert resumed.status == "past_due" and resumed.status_details is None
    assert (resumed.latest_invoice.status, resumed.latest_invoice.amount_remaining) == ("open", 1000)


def test_resume_a_paused_trial_goes_back_to_trialing(
    client: stripe.StripeClient, subscribed: Any, stand_in: StandIn
) -> None:
    _, sub = subscribed
    stand_in.state.objects[sub.id].update(status="trialing", trial_start=sub.created, trial_end=sub.created + 7 * 86400)
    assert client.v1.subscriptions.pause(sub.id).status == "paused"
    resumed = client.v1.subscriptions.resume(sub.id, {"billing_cycle_anchor": {"type": "now"}})
    assert resumed.status == "trialing" and resumed.latest_invoice == sub.latest_invoice  # no charge in a trial


def test_portal_pause_and_update_rules_for_paused_subscriptions(
    client: stripe.StripeClient, catalog: Any, subscribed: Any, stand_in: StandIn
) -> None:
    customer, sub = subscribed
    item = sub["items"].data[0]
    pause = {"type": "subscription_pause", "subscription_pause": {"subscription": sub.id}}
    stand_in.state.objects[sub.id]["status"] = "past_due"
    error = flow_error(client, customer.id, pause)
    assert (
        "only active or trialing" in error.user_message and error.param == "flow_data[subscription_pause][subscription]"
    )
    stand_in.state.objects[sub.id]["status"] = "active"
    client.v1.subscriptions.pause(sub.id)
    assert "already paused" in flow_error(client, customer.id, pause).user_message

    confirm = {
        "type": "subscription_update_confirm",
        "subscription_update_confirm": {"subscription": sub.id, "items": [{"id": item.id, "price": catalog.pro.id}]},
    }
    error = flow_error(client, customer.id, confirm)
    assert "is paused and cannot be updated" in error.user_message
    assert error.param == "flow_data[subscription_update_confirm][subscription]"
    update = {"type": "subscription_update", "subscription_update": {"subscription": sub.id}}
    assert "is paused and cannot be updated" in flow_error(client, customer.id, update).user_message
    cancel = client.v1.billing_portal.sessions.create(
        {
            "customer": customer.id,
            "flow_data": {"type": "subscription_cancel", "subscription_cancel": {"subscription": sub.id}},
        }
    )
    assert cancel.flow.subscription_cancel.subscription == sub.id


def test_promotion_code_checks(client: stripe.StripeClient, catalog: Any, subscribed: Any, stand_in: StandIn) -> None:
    customer, sub = subscribed
    pro_only = client.v1.coupons.create({"percent_off": 25, "duration": "forever", "applies_to": {"products": ["pro"]}})
    # applies_to is left out unless expanded, as on Stripe.
    assert "applies_to" not in client.v1.coupons.retrieve(pro_only.id)
    assert client.v1.coupons.retrieve(pro_only.id, {"expand": ["applies_to"]}).applies_to.products == ["pro"]
    code = client.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": pro_only.id}, "code": "PRO25"})
    checkout: Any = {"mode": "subscription", "customer": customer.id, "success_url": "http://site.test/ok"}

    def checkout_error(price: str, promotion_code: str) -> stripe.InvalidRequestError:
        with pytest.raises(stripe.InvalidRequestError) as info:
            client.v1.checkout.sessions.create(
                {**checkout, "line_items": [{"price": price}], "discounts": [{"promotion_code": promotion_code}]}
            )
        assert info.value.http_status == 400
        return info.value

    error = checkout_error(catalog.basic.id, code.id)
    assert (
        "does not apply to anything in this order" in error.user_message
        and error.param == "discounts[0][promotion_code]"
    )
    session = client.v1.checkout.sessions.create(
        {**checkout, "line_items": [{"price": catalog.pro.id}], "discounts": [{"promotion_code": code.id}]}
    )
    assert (session.amount_subtotal, session.amount_total, session.total_details.amount_discount) == (2500, 1875, 625)
    assert checkout_error(catalog.pro.id, "promo_nope").code == "resource_missing"

    item = sub["items"].data[0]

    def confirm(price: str | None, promotion_code: str) -> Any:
        fields: Any = {"id": item.id, **({"price": price} if price else {})}
        return {
            "type": "subscription_update_confirm",
            "subscription_update_confirm": {
                "subscription": sub.id,
                "items": [fields],
                "discounts": [{"promotion_code": promotion_code}],
            },
        }

    # Staying on Basic: the Pro-only code does not apply; moving to Pro it does.
    assert "does not apply" in flow_error(client, customer.id, confirm(None, code.id)).user_message
    client.v1.billing_portal.sessions.create({"customer": customer.id, "flow_data": confirm(catalog.pro.id, code.id)})

    stored = stand_in.state.objects[code.id]
    stored["expires_at"] = sub.created - 1
    assert "has expired: PRO25" in checkout_error(catalog.pro.id, code.id).user_message
    assert "has expired" in flow_error(client, customer.id, confirm(catalog.pro.id, code.id)).user_message
    stored["expires_at"] = None
    stored["active"] = False
    assert "not active" in checkout_error(catalog.pro.id, code.id).user_message
    stored["active"] = True
    stand_in.state.objects[pro_only.id]["valid"] = False
    assert "no longer valid" in checkout_error(catalog.pro.id, code.id).user_message
    assert "no longer valid" in flow_error(client, customer.id, confirm(catalog.pro.id, code.id)).user_message


def test_checkout_discount_is_on_the_subscription_and_expandable(
    client: stripe.StripeClient, catalog: Any, subscribe: Any
) -> None:
    coupon = client.v1.coupons.create({"percent_off": 20, "duration": "forever"})
    code = client.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "WELCOME20"})
    customer, sub = subscribe(catalog.pro.id, discounts=[{"promotion_code": code.id}])
    [discount_id] = sub.discounts
    assert discount_id.startswith("di_")

    fetched = client.v1.subscriptions.retrieve(sub.id, {"expand": ["discounts", "latest_invoice"]})
    discount = fetched.discounts[0]
    assert (discount.id, discount.source.coupon, discount.promotion_code) == (discount_id, coupon.id, code.id)
    assert discount.checkout_session is not None and discount.checkout_session.startswith("cs_test_")
    assert (fetched.latest_invoice.subtotal, fetched.latest_invoice.total) == (2500, 2000)
    line = fetched.latest_invoice.lines.data[0]
    assert [(d.amount, d.discount) for d in line.discount_amounts] == [(500, discount_id)]

    listed = client.v1.subscriptions.list({"customer": customer.id, "status": "all", "expand": ["data.discounts"]})
    assert [d.promotion_code for d in listed.data[0].discounts] == [code.id]
    unexpanded = client.v1.subscriptions.list({"customer": customer.id})
    assert unexpanded.data[0].discounts == [discount_id]
