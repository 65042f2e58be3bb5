"""Subscriptions made through the API, test payment methods, customer deletion
and test clocks: what `flask demo seed` and `reset` use."""

from __future__ import annotations

import pytest
import stripe

DAY = 86400


def customer_with(client, payment_method="pm_card_visa", **params):
    customer = client.v1.customers.create({"email": "ada@example.com", **params})
    card = client.v1.payment_methods.attach(payment_method, {"customer": customer.id})
    client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": card.id}})
    return customer, card


def test_attaching_a_test_payment_method_makes_a_card(client):
    customer, card = customer_with(client, "pm_card_mastercard")
    assert card.id.startswith("pm_") and card.id != "pm_card_mastercard"
    assert (card.customer, card.card.brand, card.card.last4) == (customer.id, "mastercard", "4444")
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.payment_methods.attach("pm_nope", {"customer": customer.id})
    assert unknown.value.code == "resource_missing"


def test_a_subscription_is_charged_at_once(client, catalog):
    customer, card = customer_with(client)
    sub = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": catalog.pro.id, "quantity": 3}], "billing_mode": {"type": "flexible"}}
    )
    assert sub.status == "active" and sub.billing_mode.type == "flexible"
    assert sub["items"].data[0].quantity == 3
    invoice = client.v1.invoices.list({"subscription": sub.id}).data[0]
    assert (invoice.status, invoice.amount_paid) == ("paid", 7500)


def test_a_declined_first_charge_leaves_it_incomplete_or_refuses_it(client, catalog):
    customer, _ = customer_with(client, "pm_card_chargeCustomerFail")
    sub = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": catalog.pro.id}]})
    assert sub.status == "incomplete"
    with pytest.raises(stripe.CardError) as declined:
        client.v1.subscriptions.create(
            {"customer": customer.id, "items": [{"price": catalog.pro.id}], "payment_behavior": "error_if_incomplete"}
        )
    assert declined.value.code == "card_declined"
    assert len(client.v1.subscriptions.list({"customer": customer.id, "status": "all"}).data) == 1


def test_a_trial_charges_nothing_until_it_ends(client, catalog):
    customer, _ = customer_with(client)
    sub = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": catalog.pro.id}], "trial_period_days": 14})
    assert sub.status == "trialing"
    assert sub.trial_end - sub.trial_start == 14 * DAY == sub["items"].data[0].current_period_end - sub.start_date
    assert client.v1.invoices.list({"subscription": sub.id}).data == []


def test_create_refuses_what_it_does_not_model(client, catalog):
    customer, _ = customer_with(client)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": catalog.pro.id}], "days_until_due": 3})
    assert refused.value.param == "days_until_due"


def test_cancel_ends_a_subscription_at_once_and_only_once(client, catalog):
    customer, _ = customer_with(client)
    sub = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": catalog.pro.id}]})
    canceled = client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled" and canceled.ended_at is not None
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.cancel(sub.id)


def test_deleting_a_customer_ends_its_subscriptions(client, catalog):
    customer, card = customer_with(client)
    sub = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": catalog.pro.id}]})
    deleted = client.v1.customers.delete(customer.id)
    assert deleted.deleted is True
    assert client.v1.customers.retrieve(customer.id).deleted is True
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"
    assert client.v1.payment_methods.retrieve(card.id).customer is None
    assert client.v1.customers.list({"email": "ada@example.com"}).data == []


def test_customers_on_a_test_clock_are_listed_only_by_that_clock(client):
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": 1_800_000_000, "name": "demo"})
    on_clock = client.v1.customers.create({"email": "ada@example.com", "test_clock": clock.id})
    plain = client.v1.customers.create({"email": "ada@example.com"})
    assert [c.id for c in client.v1.customers.list({"email": "ada@example.com"}).data] == [plain.id]
    assert [c.id for c in client.v1.customers.list({"test_clock": clock.id}).data] == [on_clock.id]


def test_a_trial_ending_on_a_declining_card_makes_it_past_due(client, catalog):
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": 1_800_000_000, "name": "past due"})
    customer, _ = customer_with(client, "pm_card_chargeCustomerFail", test_clock=clock.id)
    sub = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": catalog.pro.id}], "trial_period_days": 1})
    assert sub.start_date == 1_800_000_000

    advanced = client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": 1_800_000_000 + 2 * DAY})
    assert advanced.status == "advancing"  # as Stripe answers; retrieve shows it done
    assert client.v1.test_helpers.test_clocks.retrieve(clock.id).status == "ready"
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "past_due"
    assert sub["items"].data[0].current_period_start == 1_800_000_000 + DAY
    invoice = client.v1.invoices.list({"subscription": sub.id}).data[0]
    assert (invoice.status, invoice.amount_paid, invoice.attempt_count) == ("open", 0, 1)


def test_advancing_renews_paid_periods_and_ends_scheduled_cancellations(client, catalog):
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": 1_800_000_000})
    customer, _ = customer_with(client, test_clock=clock.id)
    renewing = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": catalog.basic.id}]})
    ending = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": catalog.pro.id}], "cancel_at_period_end": True}
    )
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": 1_800_000_000 + 40 * DAY})
    renewing = client.v1.subscriptions.retrieve(renewing.id)
    assert renewing.status == "active" and renewing["items"].data[0].current_period_end > 1_800_000_000 + 40 * DAY
    assert len(client.v1.invoices.list({"subscription": renewing.id}).data) == 2
    ending = client.v1.subscriptions.retrieve(ending.id)
    assert ending.status == "canceled" and ending.ended_at == ending["items"].data[0].current_period_end

    with pytest.raises(stripe.InvalidRequestError) as backwards:
        client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": 1_800_000_000})
    assert backwards.value.param == "frozen_time"


def test_deleting_a_clock_deletes_its_customers(client):
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": 1_800_000_000, "name": "gone"})
    customer = client.v1.customers.create({"email": "ada@example.com", "test_clock": clock.id})
    assert client.v1.test_helpers.test_clocks.delete(clock.id).deleted is True
    assert client.v1.customers.retrieve(customer.id).deleted is True
    assert client.v1.test_helpers.test_clocks.list().data == []


def test_coupon_and_promotion_code_updates(client):
    coupon = client.v1.coupons.create({"id": "c1", "percent_off": 10, "duration": "once"})
    assert client.v1.coupons.update(coupon.id, {"name": "Ten off"}).name == "Ten off"
    with pytest.raises(stripe.InvalidRequestError) as fixed:
        client.v1.coupons.update(coupon.id, {"percent_off": 20})  # type: ignore[typeddict-unknown-key]
    assert fixed.value.param == "percent_off"
    code = client.v1.promotion_codes.create({"code": "TEN", "promotion": {"type": "coupon", "coupon": "c1"}})
    assert client.v1.promotion_codes.update(code.id, {"active": False}).active is False
