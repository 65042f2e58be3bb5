"""The eligibility table: which buttons each subscription state gets, and why not the others."""

from datetime import datetime

import pytest

from billing import buttons
from billing.eligibility import Facts, NotEligible, PortalFeatures, SubscriptionFacts, check_plan_change
from tests.helpers import fixture_catalog

CATALOG = fixture_catalog()


def decide(sub, features, product, has_customer):
    """Every button's rule (as the registry declares it) for these facts."""
    return buttons.decide(Facts(sub, features, product, has_customer))


PRO = CATALOG.product("pro")
BUSINESS = CATALOG.product("business")
FEATURES = PortalFeatures(subscription_pause=True, adjustable_quantity=frozenset({"business"}))

ALWAYS = {"update_payment_method", "update_details", "manage_billing"}
CHANGES = {"switch_plan", "change_interval", "plan_picker"}

# status -> the buttons allowed for a Pro monthly subscription in flexible billing mode.
TABLE = {
    "trialing": ALWAYS | CHANGES | {"cancel", "pause"},
    "active": ALWAYS | CHANGES | {"cancel", "pause"},
    "past_due": ALWAYS | {"cancel"},
    "unpaid": ALWAYS | {"cancel"},
    "paused": ALWAYS | {"cancel", "resume"},
    "incomplete": ALWAYS | {"subscribe"},
    "incomplete_expired": ALWAYS | {"subscribe"},
    "canceled": ALWAYS | {"subscribe"},
}


def facts(status="active", lookup_key="pro_monthly", **kw):
    return SubscriptionFacts(id="sub_1", item_id="si_1", lookup_key=lookup_key, status=status, **kw)


def allowed(choices):
    return {button for button, choice in choices.items() if choice.allowed}


@pytest.mark.parametrize("status", sorted(TABLE))
def test_buttons_per_status(status):
    choices = decide(facts(status), FEATURES, PRO, has_customer=True)
    assert allowed(choices) == TABLE[status]
    # Every refused button says why, so a tampered POST gets a clear message.
    assert all(c.note for c in choices.values() if not c.allowed)


def test_cancel_scheduled_hides_cancel_and_pause():
    choices = decide(facts(cancel_at=datetime(2030, 1, 1)), FEATURES, PRO, has_customer=True)
    # No plan change either: the page promises no further charges (renew first, from Manage billing).
    assert allowed(choices) == ALWAYS
    assert choices["change_interval"].note.startswith("Your subscription is set to cancel")
    assert choices["cancel"].note == "Your subscription is already set to cancel."


def test_a_scheduled_downgrade_offers_keep_and_cancel_only():
    scheduled = facts(schedule_id="sub_sched_1", changes_at=datetime(2030, 1, 1))
    choices = decide(scheduled, FEATURES, PRO, has_customer=True)
    # The portal opens no other plan change while one waits; pausing would stop time for it.
    assert allowed(choices) == ALWAYS | {"keep_plan", "cancel"}
    assert choices["keep_plan"].label == "Keep Pro"
    assert choices["switch_plan"].note.startswith("Your plan change is scheduled")
    assert not decide(facts(), FEATURES, PRO, True)["keep_plan"].allowed
    assert decide(facts(), FEATURES, PRO, True)["keep_plan"].note == "You have no plan change scheduled."


def test_no_subscription_yet():
    assert allowed(decide(None, FEATURES, None, has_customer=False)) == {"subscribe"}
    # A customer whose subscription was never made can still see invoices and cards.
    assert allowed(decide(None, FEATURES, None, has_customer=True)) == ALWAYS | {"subscribe"}


def test_cancel_label_follows_the_portal_cancel_mode():
    at_end = decide(facts(), FEATURES, PRO, True)["cancel"]
    now = decide(facts(), PortalFeatures(cancel_mode="immediately"), PRO, True)["cancel"]
    assert (at_end.label, now.label) == ("Cancel at period end", "Cancel now")
    assert "until the end" in at_end.note and "immediately" in now.note


def test_pause_needs_flexible_billing_and_the_feature():
    assert not decide(facts(billing_mode="classic"), FEATURES, PRO, True)["pause"].allowed
    assert not decide(facts(), PortalFeatures(subscription_pause=False), PRO, True)["pause"].allowed


def test_seats_only_for_per_seat_plans_the_portal_can_adjust():
    business = facts(lookup_key="business_monthly", quantity=3)
    assert decide(business, FEATURES, BUSINESS, True)["change_quantity"].allowed
    assert not decide(business, PortalFeatures(), BUSINESS, True)["change_quantity"].allowed
    assert not decide(facts(), FEATURES, PRO, True)["change_quantity"].allowed


def test_several_items_cannot_use_update_confirm():
    choices = decide(facts(item_count=2), FEATURES, PRO, True)
    assert not any(choices[b].allowed for b in CHANGES)
    assert choices["cancel"].allowed


def test_plan_changes_off_in_the_portal():
    choices = decide(facts(), PortalFeatures(subscription_update=False), PRO, True)
    assert not any(choices[b].allowed for b in CHANGES)


def test_interval_label():
    assert decide(facts(), FEATURES, PRO, True)["change_interval"].label == "Switch to yearly billing"
    yearly = facts(lookup_key="pro_yearly")
    assert decide(yearly, FEATURES, PRO, True)["change_interval"].label == "Switch to monthly billing"


@pytest.mark.parametrize(
    "sub, key, message",
    [
        (facts(), "pro_monthly", "already on this plan"),
        (facts("canceled"), "business_monthly", "ended"),
        (facts("past_due"), "business_monthly", "pay the open invoice"),
        (facts(item_count=2), "business_monthly", "several items"),
    ],
)
def test_check_plan_change(sub, key, message):
    with pytest.raises(NotEligible, match=message):
        check_plan_change(sub, CATALOG.price(key))
