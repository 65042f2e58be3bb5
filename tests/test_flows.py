"""Unit tests of the pure param builders: exact params, and refusals before any call."""

import pytest

import flows
from catalog import Price

RETURN = "https://shop.example/account/return"
SUB = flows.SubscriptionFacts(id="sub_1", item_id="si_1", lookup_key="starter_monthly", status="active")
PRO = Price("pro_monthly", "pro", "month", 2900, "usd")
STARTER = Price("starter_monthly", "starter", "month", 900, "usd")


def test_update_confirm_names_the_item_and_price_and_comes_back():
    params = flows.update_confirm("cus_1", SUB, PRO, "price_pro", RETURN, "bpc_1")
    assert params == {
        "customer": "cus_1",
        "return_url": RETURN,
        "configuration": "bpc_1",
        "flow_data": {
            "type": "subscription_update_confirm",
            "subscription_update_confirm": {
                "subscription": "sub_1",
                "items": [{"id": "si_1", "price": "price_pro"}],
            },
            "after_completion": {"type": "redirect", "redirect": {"return_url": RETURN}},
        },
    }


def test_without_a_configuration_the_key_is_left_out():
    params = flows.portal_home("cus_1", RETURN, None)
    assert params == {"customer": "cus_1", "return_url": RETURN}


def test_cancel_params():
    params = flows.cancel("cus_1", SUB, RETURN, None)
    assert params["flow_data"] == {
        "type": "subscription_cancel",
        "subscription_cancel": {"subscription": "sub_1"},
        "after_completion": {"type": "redirect", "redirect": {"return_url": RETURN}},
    }


@pytest.mark.parametrize(
    "facts, price, reason",
    [
        (SUB, STARTER, "already on this plan"),
        (flows.SubscriptionFacts("sub_1", "si_1", "starter_monthly", "canceled"), PRO, "canceled cannot change"),
        (flows.SubscriptionFacts("sub_1", "si_1", "starter_monthly", "incomplete_expired"), PRO, "cannot change"),
        (flows.SubscriptionFacts("sub_1", "si_1", "starter_monthly", "active", item_count=2), PRO, "several items"),
    ],
)
def test_update_confirm_refuses_what_cannot_succeed(facts, price, reason):
    with pytest.raises(flows.NotEligible, match=reason):
        flows.update_confirm("cus_1", facts, price, "price_x", RETURN, None)


@pytest.mark.parametrize("status", sorted(flows.LIVE_STATUSES))
def test_every_live_status_can_switch_and_cancel(status):
    facts = flows.SubscriptionFacts("sub_1", "si_1", "starter_monthly", status)
    flows.check_plan_change(facts, PRO)
    assert flows.cancel("cus_1", facts, RETURN, None)["flow_data"]["type"] == "subscription_cancel"


def test_cancel_refuses_a_canceled_subscription():
    with pytest.raises(flows.NotEligible):
        flows.cancel("cus_1", flows.SubscriptionFacts("sub_1", "si_1", None, "canceled"), RETURN, None)


def test_checkout_uses_flexible_billing_and_returns_with_the_session_id():
    params = flows.checkout_subscription(
        "cus_1", "price_pro", "https://shop.example/checkout/return", "https://shop.example/", user_id=7
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
