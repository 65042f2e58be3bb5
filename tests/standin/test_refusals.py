"""Requests Stripe refuses are refused offline too, with Stripe's status, type, code and param."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from tests.standin.test_clocks_and_api_subscriptions import customer_with
from tests.standin.test_schedules import confirm, on_clock, scheduling

__all__ = ["scheduling"]  # a fixture, used by name

REDIRECT = "flow_data[after_completion][redirect][return_url]"


def _session(client: stripe.StripeClient, customer: str, **params: Any) -> Any:
    return client.v1.billing_portal.sessions.create({"customer": customer, **params})


@pytest.mark.parametrize("url", ["example.com/x", "not a url"])
@pytest.mark.parametrize("param", ["return_url", REDIRECT])
def test_a_url_without_a_scheme_is_refused(client: stripe.StripeClient, catalog: Any, url: str, param: str) -> None:
    customer, _ = customer_with(client)
    if param == "return_url":
        params: dict[str, Any] = {"return_url": url}
    else:
        params = {
            "flow_data": {
                "type": "payment_method_update",
                "after_completion": {"type": "redirect", "redirect": {"return_url": url}},
            }
        }
    with pytest.raises(stripe.InvalidRequestError) as caught:
        _session(client, customer.id, **params)
    error = caught.value
    assert error.http_status == 400 and error.code == "url_invalid" and error.param == param
    assert "An explicit scheme (such as https) must be provided." in str(error.user_message)


def test_a_custom_message_over_500_characters_is_refused(client: stripe.StripeClient, catalog: Any) -> None:
    customer, _ = customer_with(client)
    after = {"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": "x" * 501}}
    with pytest.raises(stripe.InvalidRequestError) as caught:
        _session(client, customer.id, flow_data={"type": "payment_method_update", "after_completion": after})
    assert caught.value.param == "flow_data[after_completion][hosted_confirmation][custom_message]"
    after["hosted_confirmation"]["custom_message"] = "x" * 500
    _session(client, customer.id, flow_data={"type": "payment_method_update", "after_completion": after})


def test_a_subscription_with_a_schedule_cannot_be_paused(
    client: stripe.StripeClient, web: Any, page_path: Any, scheduling: Any
) -> None:
    """https://docs.stripe.com/api/subscriptions/pause: by the API and by the portal's flow. The
    schedule is the one a downgrade kept for the period's end makes."""
    _, customer, subscription = on_clock(client, scheduling.pro.id)
    confirm(client, web, page_path, customer, subscription, scheduling.basic.id)
    assert client.v1.subscriptions.retrieve(subscription.id).schedule
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.pause(subscription.id)
    assert "Cannot pause subscriptions with attached schedules" in str(caught.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        _session(
            client,
            customer.id,
            flow_data={"type": "subscription_pause", "subscription_pause": {"subscription": subscription.id}},
        )
    assert "Cannot pause subscriptions with attached schedules" in str(caught.value.user_message)


def test_a_coupon_at_max_redemptions_is_invalid_and_refused_as_a_retention_offer(
    client: stripe.StripeClient, catalog: Any
) -> None:
    coupon = client.v1.coupons.create({"percent_off": 20, "duration": "once", "max_redemptions": 1})
    customer, _ = customer_with(client)
    client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": catalog.basic.id}], "discounts": [{"coupon": coupon.id}]}
    )
    assert client.v1.coupons.retrieve(coupon.id).valid is False
    other, _ = customer_with(client)
    subscription = client.v1.subscriptions.create({"customer": other.id, "items": [{"price": catalog.basic.id}]})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.update(subscription.id, {"discounts": [{"coupon": coupon.id}]})
    retention = {"type": "coupon_offer", "coupon_offer": {"coupon": coupon.id}}
    with pytest.raises(stripe.InvalidRequestError):
        _session(
            client,
            other.id,
            flow_data={
                "type": "subscription_cancel",
                "subscription_cancel": {"subscription": subscription.id, "retention": retention},
            },
        )
