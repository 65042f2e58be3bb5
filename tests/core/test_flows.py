"""Unit tests of the pure param builders: every flow type and every after_completion type."""

import dataclasses

import pytest

from billing import flows
from billing.catalog import AfterCompletion
from billing.eligibility import SubscriptionFacts

RETURN = "https://shop.example/account/return"
PRESS = flows.Press(customer="cus_1", return_url=RETURN, configuration="bpc_1")
SUB = SubscriptionFacts(id="sub_1", item_id="si_1", lookup_key="starter_monthly", status="active")
REDIRECT = AfterCompletion()


def press(ending=REDIRECT, **chosen):
    """A press of a subscription button by customer cus_1, as a view makes it."""
    return dataclasses.replace(PRESS, ending=ending, sub=SUB, **chosen)


ENDINGS = {
    "redirect": (AfterCompletion("redirect"), {"type": "redirect", "redirect": {"return_url": RETURN}}),
    "hosted_confirmation": (
        AfterCompletion("hosted_confirmation", "Thanks!"),
        {"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": "Thanks!"}},
    ),
    "hosted_confirmation without message": (
        AfterCompletion("hosted_confirmation"),
        {"type": "hosted_confirmation"},
    ),
    "portal_homepage": (AfterCompletion("portal_homepage"), {"type": "portal_homepage"}),
}

FLOWS = {
    "subscription_update_confirm": (
        lambda ending: flows.update_confirm(press(ending, price_id="price_pro", quantity=1)),
        {"subscription": "sub_1", "items": [{"id": "si_1", "price": "price_pro", "quantity": 1}]},
    ),
    "subscription_update": (lambda ending: flows.plan_picker(press(ending)), {"subscription": "sub_1"}),
    "subscription_cancel": (lambda ending: flows.cancel(press(ending)), {"subscription": "sub_1"}),
    "subscription_pause": (lambda ending: flows.pause(press(ending)), {"subscription": "sub_1"}),
    "payment_method_update": (lambda ending: flows.payment_method_update(press(ending)), None),
    "customer_update": (lambda ending: flows.customer_update(press(ending)), None),
}


@pytest.mark.parametrize("flow_type", FLOWS)
@pytest.mark.parametrize("ending_name", ENDINGS)
def test_every_flow_with_every_after_completion(flow_type, ending_name):
    build, data = FLOWS[flow_type]
    ending, expected_after = ENDINGS[ending_name]
    flow_data = {"type": flow_type}
    if data is not None:
        flow_data[flow_type] = data
    flow_data["after_completion"] = expected_after
    assert build(ending) == {
        "customer": "cus_1",
        "return_url": RETURN,
        "configuration": "bpc_1",
        "flow_data": flow_data,
    }


def test_plain_portal_without_configuration_or_locale():
    assert flows.portal_home(flows.Press("cus_1", RETURN)) == {"customer": "cus_1", "return_url": RETURN}


def test_locale_is_passed():
    assert flows.portal_home(flows.Press("cus_1", RETURN, locale="de"))["locale"] == "de"


def test_update_confirm_quantity_and_discounts():
    params = flows.update_confirm(press(quantity=5, discount=flows.Discount(promotion_code="promo_1")))
    assert params["flow_data"]["subscription_update_confirm"] == {
        "subscription": "sub_1",
        "items": [{"id": "si_1", "quantity": 5}],
        "discounts": [{"promotion_code": "promo_1"}],
    }
    coupon = flows.update_confirm(press(price_id="p", quantity=1, discount=flows.Discount(coupon="c1")))
    assert coupon["flow_data"]["subscription_update_confirm"]["discounts"] == [{"coupon": "c1"}]


def test_update_confirm_always_states_the_quantity():
    # An item with a price and no quantity keeps the old one: the builder never sends that.
    with pytest.raises(AssertionError, match="states its quantity"):
        flows.update_confirm(press(price_id="price_pro"))


def test_cancel_with_retention_offer():
    params = flows.cancel(press(retention_coupon="stay-with-us"))
    assert params["flow_data"]["subscription_cancel"] == {
        "subscription": "sub_1",
        "retention": {"type": "coupon_offer", "coupon_offer": {"coupon": "stay-with-us"}},
    }


def test_checkout_uses_flexible_billing_and_returns_with_the_session_id():
    params = flows.checkout_subscription(
        flows.Press(
            "cus_1",
            "https://shop.example/checkout/return",
            price_id="price_pro",
            quantity=1,
            cancel_url="https://shop.example/",
            user_id=7,
        )
    )
    assert params == {
        "mode": "subscription",
        "customer": "cus_1",
        "client_reference_id": "7",
        "line_items": [{"price": "price_pro", "quantity": 1}],
        "subscription_data": {"billing_mode": {"type": "flexible"}},
        "success_url": "https://shop.example/checkout/return?checkout_session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.example/",
    }
    with_code = flows.checkout_subscription(
        flows.Press(
            "cus_1",
            "s",
            price_id="p",
            quantity=1,
            cancel_url="c",
            user_id=1,
            discount=flows.Discount(promotion_code="promo_1"),
        )
    )
    assert with_code["discounts"] == [{"promotion_code": "promo_1"}]
