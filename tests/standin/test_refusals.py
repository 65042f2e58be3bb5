"""Requests Stripe refuses are refused offline too, with Stripe's status, type, code and param."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from tests.standin.test_clocks_and_api_subscriptions import customer_with

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
