"""What a client sees of the stand-in beyond the SDK's happy path: Basic auth, Stripe's
error codes and doc_url, JSON for unknown routes, masked keys, and two portal-flow details."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import stripe
from werkzeug.test import Client

from standin import StandIn
from standin.api import mask_key


def basic(username: str, password: str = "") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def test_basic_auth_is_accepted_like_bearer(stand_in: StandIn) -> None:
    web = Client(stand_in.wsgi_app)
    # curl -u "sk_test_...:" sends the key as the username with an empty password.
    created = web.post("/v1/customers", data={"email": "a@example.com"}, headers=basic("sk_test_abc"))
    assert created.status_code == 200
    customer_id = created.get_json()["id"]
    assert web.get(f"/v1/customers/{customer_id}", headers=basic("rk_test_abc")).status_code == 200
    assert web.get(f"/v1/customers/{customer_id}", headers={"Authorization": "Bearer sk_test_abc"}).status_code == 200

    assert web.get("/v1/customers", headers=basic("")).status_code == 401
    assert web.get("/v1/customers", headers={"Authorization": "Basic !!not-base64"}).status_code == 401
    assert web.get("/v1/customers", headers={"Authorization": "Digest sk_test_abc"}).status_code == 401
    # Made up, and built here so that no secret scanner takes it for a committed key.
    live = web.get("/v1/customers", headers=basic("sk_" + "live_" + "abcdefghijklmnop1234"))
    assert live.status_code == 401
    assert live.get_json()["error"]["message"] == "Invalid API Key provided: sk_live_****************1234"


def test_keys_are_masked_as_stripe_masks_them() -> None:
    assert mask_key("sk_test_" + "x" * 20 + "1234") == "sk_test_" + "*" * 20 + "1234"
    assert mask_key("sk_" + "live_123456789") == "sk_live_*****6789"
    # Short keys: never a character shown twice, never the whole key.
    for key in ("", "a", "abc", "abcdefgh", "abcdefghijkl"):
        masked = mask_key(key)
        assert len(masked) == len(key) and (key == "" or masked != key)
    assert mask_key("abcdefghijkl") == "abcdef******"


def sdk_error(call: Any) -> stripe.StripeError:
    with pytest.raises(stripe.StripeError) as info:
        call()
    return info.value


def test_errors_carry_stripe_codes_and_doc_urls_through_the_sdk(
    client: stripe.StripeClient, catalog: Any, subscribed: Any
) -> None:
    customer, subscription = subscribed
    cases: list[tuple[Any, str, str]] = [
        (lambda: client.v1.customers.create({"nope": "x"}), "parameter_unknown", "nope"),  # type: ignore[typeddict-unknown-key]
        (
            lambda: client.v1.billing_portal.sessions.create(
                {"customer": customer.id, "flow_data": {"subscription_update": {"subscription": subscription.id}}}  # type: ignore[typeddict-item]
            ),
            "parameter_missing",
            "flow_data[type]",
        ),
        (lambda: client.v1.billing_portal.sessions.create({}), "parameter_missing", "customer"),
        (lambda: client.v1.customers.list({"limit": "ten"}), "parameter_invalid_integer", "limit"),  # type: ignore[typeddict-item]
        (lambda: client.v1.customers.retrieve("cus_nope"), "resource_missing", "id"),
        (lambda: client.v1.products.create({"id": "basic", "name": "Again"}), "resource_already_exists", "id"),
        (
            lambda: client.v1.checkout.sessions.create(
                {
                    "mode": "subscription",
                    "customer": customer.id,
                    "customer_email": "a@example.com",
                    "success_url": "http://site.test/done",
                    "line_items": [{"price": catalog.pro.id, "quantity": 1}],
                }
            ),
            "parameters_exclusive",
            "customer_email",
        ),
    ]
    for call, code, param in cases:
        error = sdk_error(call)
        assert isinstance(error, stripe.InvalidRequestError), (code, error)
        assert (error.code, error.param) == (code, param)
        assert error.error is not None
        assert error.error.doc_url == "https://stripe.com/docs/error-codes/" + code.replace("_", "-")
    # An error without a Stripe code has no doc_url either.
    error = sdk_error(lambda: client.v1.billing_portal.sessions.create({"customer": customer.id, "locale": "xx"}))  # type: ignore[typeddict-item]
    assert error.code is None and error.error is not None and error.error.doc_url is None


def test_unknown_routes_answer_stripe_json(stand_in: StandIn, client: stripe.StripeClient) -> None:
    web = Client(stand_in.wsgi_app)
    for method, path in (("GET", "/v1/nope"), ("POST", "/v1/nope/deeper"), ("DELETE", "/v1/customers")):
        response = web.open(path, method=method, headers={"Authorization": "Bearer sk_test_x"})
        assert (response.status_code, response.mimetype) == (404, "application/json")
        assert response.get_json() == {
            "error": {
                "type": "invalid_request_error",
                "message": f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
                "or we can help at https://support.stripe.com/.",
            }
        }
    # Through the SDK it is an InvalidRequestError, as from Stripe.
    error = sdk_error(lambda: client.raw_request("get", "/v1/nope"))
    assert isinstance(error, stripe.InvalidRequestError) and error.http_status == 404
    # The hosted pages keep their HTML 404.
    assert web.get("/p/session/bps_nope").mimetype == "text/html"


def confirm_flow(sub: Any, item: Any, price: str | None = None, **extra: Any) -> dict[str, Any]:
    flow_item: dict[str, Any] = {"id": item.id}
    if price is not None:
        flow_item["price"] = price
    return {
        "type": "subscription_update_confirm",
        "subscription_update_confirm": {"subscription": sub.id, "items": [flow_item], **extra},
    }


def test_update_confirm_items_echo_the_current_quantity(
    client: stripe.StripeClient, stand_in: StandIn, catalog: Any, subscribed: Any
) -> None:
    customer, sub = subscribed
    item = sub["items"].data[0]
    stand_in.state.objects[sub.id]["items"]["data"][0]["quantity"] = 3
    session = client.v1.billing_portal.sessions.create(
        {"customer": customer.id, "flow_data": confirm_flow(sub, item, catalog.pro.id)}  # type: ignore[typeddict-item]
    )
    assert session.flow is not None
    [echoed] = session.flow.subscription_update_confirm.items  # type: ignore[union-attr]
    assert (echoed.id, echoed.price, echoed.quantity) == (item.id, catalog.pro.id, 3)


def test_update_confirm_discounts_replace_the_subscriptions(
    client: stripe.StripeClient, web: Client, catalog: Any, subscribe: Any, page_path: Any
) -> None:
    first = client.v1.coupons.create({"percent_off": 10, "duration": "forever"})
    second = client.v1.coupons.create({"percent_off": 50, "duration": "once"})
    customer, sub = subscribe(catalog.basic.id, discounts=[{"coupon": first.id}])
    assert len(client.v1.subscriptions.retrieve(sub.id).discounts) == 1
    session = client.v1.billing_portal.sessions.create(
        {
            "customer": customer.id,
            "flow_data": confirm_flow(sub, sub["items"].data[0], catalog.pro.id, discounts=[{"coupon": second.id}]),  # type: ignore[typeddict-item]
        }
    )
    assert web.post(page_path(session.url)).status_code == 303
    after = client.v1.subscriptions.retrieve(sub.id, {"expand": ["discounts"]})
    assert [d.source.coupon for d in after.discounts] == [second.id]

    # Without discounts in the flow, the subscription keeps its own.
    session = client.v1.billing_portal.sessions.create(
        {"customer": customer.id, "flow_data": confirm_flow(sub, after["items"].data[0], catalog.basic.id)}  # type: ignore[typeddict-item]
    )
    assert web.post(page_path(session.url)).status_code == 303
    assert [d.source.coupon for d in client.v1.subscriptions.retrieve(sub.id, {"expand": ["discounts"]}).discounts] == [
        second.id
    ]


@pytest.mark.parametrize(
    ("price", "quantity", "refusal"),
    [
        ("basic", 2, "cannot be changed: its entry .* does not have adjustable_quantity"),
        ("pro", 11, "must be between 1 and 10"),
        ("pro", 0, "must be between 1 and 10"),
        ("basic", 1, None),  # the current quantity is no change
        ("pro", 10, None),
    ],
)
def test_update_confirm_quantity_honours_adjustable_quantity(
    client: stripe.StripeClient, catalog: Any, subscribed: Any, price: str, quantity: int, refusal: str | None
) -> None:
    customer, sub = subscribed
    item = sub["items"].data[0]
    params: Any = {
        "customer": customer.id,
        "flow_data": {
            "type": "subscription_update_confirm",
            "subscription_update_confirm": {
                "subscription": sub.id,
                "items": [{"id": item.id, "price": getattr(catalog, price).id, "quantity": quantity}],
            },
        },
    }
    if refusal is None:
        session = client.v1.billing_portal.sessions.create(params)
        assert session.flow.subscription_update_confirm["items"][0].quantity == quantity
        return
    with pytest.raises(stripe.InvalidRequestError, match=refusal) as info:
        client.v1.billing_portal.sessions.create(params)
    assert info.value.param == "flow_data[subscription_update_confirm][items][0][quantity]"


def test_update_confirm_to_a_product_sold_one_at_a_time_takes_quantity_one(
    client: stripe.StripeClient, web: Client, catalog: Any, subscribe: Any, page_path: Any
) -> None:
    """From 4 of an adjustable product to one without adjustable_quantity: 1 is that product's
    quantity (the only way off a per-seat plan), any other number is still refused."""
    customer, sub = subscribe(catalog.pro.id, line_items=[{"price": catalog.pro.id, "quantity": 4}])
    item = sub["items"].data[0]
    assert item.quantity == 4

    def confirm(quantity: int) -> Any:
        flow = confirm_flow(sub, item, catalog.basic.id)
        flow["subscription_update_confirm"]["items"][0]["quantity"] = quantity
        return client.v1.billing_portal.sessions.create({"customer": customer.id, "flow_data": flow})  # type: ignore[typeddict-item]

    with pytest.raises(stripe.InvalidRequestError, match="does not have adjustable_quantity"):
        confirm(2)
    session = confirm(1)
    assert web.post(page_path(session.url)).status_code == 303
    after = client.v1.subscriptions.retrieve(sub.id)["items"].data[0]
    assert (after.price.id, after.quantity) == (catalog.basic.id, 1)
