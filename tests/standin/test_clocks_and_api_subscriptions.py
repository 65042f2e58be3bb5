"""Subscriptions made through the API, test payment methods, customer deletion
and test clocks: what the app uses to seed demo customers and reset them."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from standin import StandIn

DAY = 86400
T0 = 1_800_000_000  # a clock's starting time (2027-01-15)


def customer_with(client: stripe.StripeClient, payment_method: str = "pm_card_visa", **params: Any) -> tuple[Any, Any]:
    """A customer whose default payment method is a new card from a Stripe test id."""
    customer = client.v1.customers.create({"email": "ada@example.com", **params})
    card = client.v1.payment_methods.attach(payment_method, {"customer": customer.id})
    client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": card.id}})
    return customer, card


def invoices(client: stripe.StripeClient, subscription_id: str) -> list[Any]:
    """The subscription's invoices, oldest first."""
    return list(reversed(client.v1.invoices.list({"subscription": subscription_id, "limit": 100}).data))


def api_error(call: Any) -> Any:
    """The Stripe error that `call()` raised (InvalidRequestError, CardError, ...)."""
    with pytest.raises(stripe.StripeError) as info:
        call()
    return info.value


# -- Payment methods and customers ---------------------------------------------


def test_attaching_a_test_payment_method_makes_a_new_card(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({"email": "ada@example.com"})
    cards = {
        pm: client.v1.payment_methods.attach(pm, {"customer": customer.id})
        for pm in ("pm_card_visa", "pm_card_mastercard", "pm_card_chargeCustomerFail")
    }
    assert [(c.card.brand, c.card.last4) for c in cards.values()] == [
        ("visa", "4242"),
        ("mastercard", "4444"),
        ("visa", "0341"),
    ]
    for card in cards.values():
        assert card.id.startswith("pm_") and card.id not in cards and card.customer == customer.id
        assert card.card.exp_year > 2026
    listed = client.v1.customers.payment_methods.list(customer.id)
    assert {m.id for m in listed.data} == {c.id for c in cards.values()}
    again = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    assert again.id != cards["pm_card_visa"].id  # a new card each time, as on Stripe

    error = api_error(lambda: client.v1.payment_methods.attach("pm_nope", {"customer": customer.id}))
    assert (error.http_status, error.code, error.user_message) == (
        400,
        "resource_missing",
        "No such PaymentMethod: 'pm_nope'",
    )
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "payment_method"


def test_attach_and_detach_an_existing_payment_method(client: stripe.StripeClient) -> None:
    customer, card = customer_with(client)
    other = client.v1.customers.create({"email": "bob@example.com"})
    assert client.v1.payment_methods.attach(card.id, {"customer": customer.id}).customer == customer.id
    error = api_error(lambda: client.v1.payment_methods.attach(card.id, {"customer": other.id}))
    assert "already been attached to a customer" in str(error.user_message)

    detached = client.v1.payment_methods.detach(card.id)
    assert detached.customer is None
    # The customer's default was this card: Stripe unsets it.
    assert client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method is None
    assert "not attached to a customer" in str(
        api_error(lambda: client.v1.payment_methods.detach(card.id)).user_message
    )
    assert client.v1.payment_methods.attach(card.id, {"customer": other.id}).customer == other.id


def test_create_a_customer_with_a_default_payment_method(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(
        {
            "email": "ada@example.com",
            "payment_method": "pm_card_mastercard",
            "invoice_settings": {"default_payment_method": "pm_card_mastercard"},
        }
    )
    default = customer.invoice_settings.default_payment_method
    assert default.startswith("pm_") and default != "pm_card_mastercard"
    assert client.v1.payment_methods.retrieve(default).customer == customer.id

    error = api_error(
        lambda: client.v1.customers.create(
            {"payment_method": "pm_card_visa", "invoice_settings": {"default_payment_method": "pm_card_mastercard"}}
        )
    )
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "invoice_settings[default_payment_method]"


def test_list_customers_by_email(client: stripe.StripeClient) -> None:
    ada = client.v1.customers.create({"email": "ada@example.com"})
    client.v1.customers.create({"email": "bob@example.com"})
    newer = client.v1.customers.create({"email": "ada@example.com"})
    assert [c.id for c in client.v1.customers.list({"email": "ada@example.com"}).data] == [newer.id, ada.id]
    assert client.v1.customers.list({"email": "ADA@example.com"}).data == []  # case-sensitive, as on Stripe
    page = client.v1.customers.list({"limit": 2})
    assert len(page.data) == 2 and page.has_more
    assert api_error(lambda: client.v1.customers.list({"created": {"gt": 1}})).param == "created"


def test_deleting_a_customer(client: stripe.StripeClient, catalog: Any) -> None:
    customer, card = customer_with(client)
    sub = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": catalog.pro.id}]})
    deleted = client.v1.customers.delete(customer.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (customer.id, "customer", True)
    again = client.v1.customers.retrieve(customer.id)
    assert again.deleted is True and again.to_dict() == {"id": customer.id, "object": "customer", "deleted": True}

    canceled = client.v1.subscriptions.retrieve(sub.id)
    assert canceled.status == "canceled" and canceled.canceled_at is not None and canceled.ended_at is not None
    assert client.v1.payment_methods.retrieve(card.id).customer is None
    assert client.v1.customers.list({"email": "ada@example.com"}).data == []
    # A deleted customer can no longer be used or changed.
    assert api_error(lambda: client.v1.customers.update(customer.id, {"name": "Ada"})).http_status == 404
    assert api_error(lambda: client.v1.customers.delete(customer.id)).http_status == 404
    error = api_error(
        lambda: client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": catalog.pro.id}]})
    )
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "customer"


# -- Subscriptions --------------------------------------------------------------


def test_a_subscription_is_charged_at_once(client: stripe.StripeClient, catalog: Any) -> None:
    customer, card = customer_with(client)
    coupon = client.v1.coupons.create({"percent_off": 20, "duration": "forever"})
    sub = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": catalog.pro.id, "quantity": 3}],
            "discounts": [{"coupon": coupon.id}],
            "metadata": {"demo": "active"},
            "expand": ["latest_invoice"],
        }
    )
    assert (sub.status, sub.billing_mode.type, sub.metadata.to_dict()) == ("active", "flexible", {"demo": "active"})
    item = sub["items"].data[0]
    assert item.quantity == 3 and item.current_period_start == sub.start_date
    invoice = sub.latest_invoice
    assert (invoice.status, invoice.billing_reason, invoice.subtotal, invoice.amount_paid) == (
        "paid",
        "subscription_create",
        7500,
        6000,
    )
    assert client.v1.coupons.retrieve(coupon.id).times_redeemed == 1
    assert (
        client.v1.subscriptions.create(
            {
                "customer": customer.id,
                "items": [{"price": catalog.basic.id}],
                "default_payment_method": card.id,
                "billing_mode": {"type": "classic"},
            }
        ).billing_mode.type
        == "classic"
    )


def test_a_trial_starts_with_a_free_invoice(client: stripe.StripeClient, catalog: Any) -> None:
    customer = client.v1.customers.create({"email": "ada@example.com"})  # no card needed for a trial
    sub = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": catalog.pro.id}],
            "trial_period_days": 14,
            "expand": ["latest_invoice"],
        }
    )
    item = sub["items"].data[0]
    assert sub.status == "trialing" and sub.trial_end - sub.trial_start == 14 * DAY
    assert (item.current_period_start, item.current_period_end) == (sub.trial_start, sub.trial_end)
    invoice = sub.latest_invoice
    assert (invoice.status, invoice.amount_paid, invoice.total) == ("paid", 0, 0)
    assert invoice.lines.data[0].description == "Trial period for pro"

    trial_end = sub.trial_end + DAY
    ends = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": catalog.pro.id}], "trial_end": trial_end}
    )
    assert (ends.status, ends.trial_end) == ("trialing", trial_end)
    both = {
        "customer": customer.id,
        "items": [{"price": catalog.pro.id}],
        "trial_end": trial_end,
        "trial_period_days": 3,
    }
    assert api_error(lambda: client.v1.subscriptions.create(both)).param == "trial_end"
    past = {"customer": customer.id, "items": [{"price": catalog.pro.id}], "trial_end": 1_000_000_000}
    assert api_error(lambda: client.v1.subscriptions.create(past)).param == "trial_end"


def test_a_declined_first_charge(client: stripe.StripeClient, catalog: Any, stand_in: StandIn) -> None:
    customer, _ = customer_with(client, "pm_card_chargeCustomerFail")
    params: Any = {"customer": customer.id, "items": [{"price": catalog.pro.id}], "expand": ["latest_invoice"]}
    sub = client.v1.subscriptions.create(params)  # payment_behavior defaults to allow_incomplete
    assert sub.status == "incomplete"
    assert (sub.latest_invoice.status, sub.latest_invoice.amount_remaining, sub.latest_invoice.attempt_count) == (
        "open",
        2500,
        1,
    )

    invoice_count = len(stand_in.state.all("invoice"))
    error = api_error(lambda: client.v1.subscriptions.create({**params, "payment_behavior": "error_if_incomplete"}))
    assert isinstance(error, stripe.CardError)
    assert (error.http_status, error.code, error.user_message) == (402, "card_declined", "Your card was declined.")
    assert len(client.v1.subscriptions.list({"customer": customer.id, "status": "all"}).data) == 1
    assert len(stand_in.state.all("invoice")) == invoice_count  # nothing was stored

    no_card = client.v1.customers.create()
    bare: Any = {"customer": no_card.id, "items": [{"price": catalog.pro.id}]}
    assert client.v1.subscriptions.create(bare).status == "incomplete"
    error = api_error(lambda: client.v1.subscriptions.create({**bare, "payment_behavior": "error_if_incomplete"}))
    assert error.http_status == 400 and "no attached payment source or default payment method" in str(
        error.user_message
    )


def test_default_incomplete_waits_for_the_payment_to_be_confirmed(client: stripe.StripeClient, catalog: Any) -> None:
    customer, _ = customer_with(client)
    sub = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": catalog.pro.id}],
            "payment_behavior": "default_incomplete",
            "expand": ["latest_invoice"],
        }
    )
    assert sub.status == "incomplete"
    assert (sub.latest_invoice.status, sub.latest_invoice.attempted, sub.latest_invoice.attempt_count) == (
        "open",
        False,
        0,
    )


def test_create_checks_and_refuses_what_it_does_not_model(client: stripe.StripeClient, catalog: Any) -> None:
    customer, _ = customer_with(client)
    one_time = client.v1.prices.create({"product": "pro", "unit_amount": 100, "currency": "usd"})
    other, other_card = customer_with(client)
    base: Any = {"customer": customer.id, "items": [{"price": catalog.pro.id}]}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"days_until_due": 3}, "days_until_due"),
        (
            {"items": [{"price_data": {"currency": "usd", "product": "pro", "recurring": {"interval": "month"}}}]},
            "items[0][price_data]",
        ),
        ({"items": [{"price": one_time.id}]}, "items[0][price]"),
        ({"items": []}, "items"),
        ({"default_payment_method": other_card.id}, "default_payment_method"),
        ({"discounts": [{"promotion_code": "promo_nope"}]}, "discounts[0][promotion_code]"),
        ({"payment_behavior": "pending_if_incomplete"}, "payment_behavior"),
    ]
    for extra, param in cases:
        assert api_error(lambda extra=extra: client.v1.subscriptions.create({**base, **extra})).param == param
    assert other.id != customer.id


def test_update_schedules_and_undoes_cancellations(client: stripe.StripeClient, catalog: Any) -> None:
    customer, _ = customer_with(client)
    sub = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": catalog.pro.id}]})
    period_end = sub["items"].data[0].current_period_end

    ending = client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})
    assert (ending.cancel_at_period_end, ending.cancel_at, ending.status) == (True, period_end, "active")
    assert ending.canceled_at is not None and ending.cancellation_details.reason == "cancellation_requested"
    kept = client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": False})
    assert (kept.cancel_at_period_end, kept.cancel_at, kept.canceled_at) == (False, None, None)

    at = client.v1.subscriptions.update(sub.id, {"cancel_at": period_end - DAY})
    assert (at.cancel_at, at.cancel_at_period_end) == (period_end - DAY, False)
    assert client.v1.subscriptions.update(sub.id, {"cancel_at": ""}).cancel_at is None
    assert client.v1.subscriptions.update(sub.id, {"cancel_at": "max_period_end"}).cancel_at == period_end
    assert api_error(lambda: client.v1.subscriptions.update(sub.id, {"cancel_at": 1_000_000_000})).param == "cancel_at"

    card = client.v1.payment_methods.attach("pm_card_mastercard", {"customer": customer.id})
    updated = client.v1.subscriptions.update(sub.id, {"default_payment_method": card.id, "metadata": {"seed": "1"}})
    assert (updated.default_payment_method, updated.metadata.seed) == (card.id, "1")
    stranger, stranger_card = customer_with(client)
    error = api_error(lambda: client.v1.subscriptions.update(sub.id, {"default_payment_method": stranger_card.id}))
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "default_payment_method"
    assert (
        api_error(lambda: client.v1.subscriptions.update(sub.id, {"items": [{"price": catalog.basic.id}]})).param
        == "items"
    )


def test_cancel_ends_a_subscription_at_once_and_only_once(client: stripe.StripeClient, catalog: Any) -> None:
    customer, _ = customer_with(client)
    sub = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": catalog.pro.id}]})
    canceled = client.v1.subscriptions.cancel(
        sub.id, {"cancellation_details": {"comment": "Moving on", "feedback": "too_expensive"}}
    )
    assert canceled.status == "canceled" and canceled.ended_at == canceled.canceled_at is not None
    details = canceled.cancellation_details
    assert (details.reason, details.comment, details.feedback) == (
        "cancellation_requested",
        "Moving on",
        "too_expensive",
    )

    error = api_error(lambda: client.v1.subscriptions.cancel(sub.id))
    assert (error.http_status, error.code, error.user_message) == (
        404,
        "resource_missing",
        f"No such subscription: '{sub.id}'",
    )
    error = api_error(lambda: client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": False}))
    assert error.user_message == "A canceled subscription can only update its cancellation_details and metadata."
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "cancel_at_period_end"
    assert client.v1.subscriptions.update(sub.id, {"metadata": {"note": "kept"}}).metadata.note == "kept"
    assert api_error(lambda: client.v1.subscriptions.cancel(sub.id, {"prorate": True})).param == "prorate"


def test_coupon_and_promotion_code_updates(client: stripe.StripeClient) -> None:
    coupon = client.v1.coupons.create({"id": "c1", "percent_off": 10, "duration": "once"})
    updated = client.v1.coupons.update(coupon.id, {"name": "Ten off", "metadata": {"seed": "1"}})
    assert (updated.name, updated.metadata.seed, updated.percent_off) == ("Ten off", "1", 10)
    assert (
        api_error(lambda: client.v1.coupons.update(coupon.id, {"currency_options": {"eur": {"amount_off": 1}}})).param
        == "currency_options"
    )

    code = client.v1.promotion_codes.create({"code": "TEN", "promotion": {"type": "coupon", "coupon": "c1"}})
    off = client.v1.promotion_codes.update(code.id, {"active": False, "metadata": {"seed": "1"}})
    assert (off.active, off.metadata.seed) == (False, "1")
    client.v1.promotion_codes.create({"code": "TEN", "promotion": {"type": "coupon", "coupon": "c1"}})
    error = api_error(lambda: client.v1.promotion_codes.update(code.id, {"active": True}))
    assert "already exists" in str(error.user_message)


# -- Test clocks ---------------------------------------------------------------


def test_test_clock_endpoints(client: stripe.StripeClient) -> None:
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": T0, "name": "demo"})
    assert (clock.id[:6], clock.frozen_time, clock.name, clock.status) == ("clock_", T0, "demo", "ready")
    assert clock.deletes_after > clock.created
    assert client.v1.test_helpers.test_clocks.retrieve(clock.id).name == "demo"
    assert [c.id for c in client.v1.test_helpers.test_clocks.list().data] == [clock.id]

    advanced = client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 + DAY})
    # As Stripe answers while it works; a later retrieve shows it done.
    assert (advanced.status, advanced.status_details.advancing.target_frozen_time) == ("advancing", T0 + DAY)
    done = client.v1.test_helpers.test_clocks.retrieve(clock.id)
    assert (done.status, done.frozen_time) == ("ready", T0 + DAY)

    error = api_error(lambda: client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 + DAY}))
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "frozen_time"
    # Without subscriptions, a clock moves at most two years at a time.
    error = api_error(lambda: client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 + 800 * DAY}))
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "frozen_time"

    deleted = client.v1.test_helpers.test_clocks.delete(clock.id)
    assert (deleted.id, deleted.deleted) == (clock.id, True)
    assert client.v1.test_helpers.test_clocks.list().data == []
    assert api_error(lambda: client.v1.test_helpers.test_clocks.retrieve(clock.id)).http_status == 404


def test_customers_on_a_test_clock_live_in_its_time(client: stripe.StripeClient, catalog: Any) -> None:
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": T0})
    customer, card = customer_with(client, test_clock=clock.id)
    plain = client.v1.customers.create({"email": "ada@example.com"})
    assert (customer.test_clock, customer.created, card.created) == (clock.id, T0, T0)
    # As on Stripe, customers and subscriptions on a clock are listed only when asked for by clock (or customer).
    assert [c.id for c in client.v1.customers.list({"email": "ada@example.com"}).data] == [plain.id]
    assert [c.id for c in client.v1.customers.list({"test_clock": clock.id}).data] == [customer.id]

    sub = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": catalog.basic.id}], "expand": ["latest_invoice"]}
    )
    assert (sub.test_clock, sub.created, sub.start_date, sub["items"].data[0].current_period_start) == (
        clock.id,
        T0,
        T0,
        T0,
    )
    assert (sub.latest_invoice.created, sub.latest_invoice.test_clock) == (T0, clock.id)
    assert client.v1.subscriptions.list().data == []
    assert [s.id for s in client.v1.subscriptions.list({"test_clock": clock.id}).data] == [sub.id]
    assert [s.id for s in client.v1.subscriptions.list({"customer": customer.id}).data] == [sub.id]
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.customers.create({"test_clock": "clock_nope"})
    assert missing.value.param == "test_clock"


def test_advancing_past_a_trial_charges_the_first_period(client: stripe.StripeClient, catalog: Any) -> None:
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": T0})
    customer, _ = customer_with(client, test_clock=clock.id)
    sub = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": catalog.pro.id}], "trial_period_days": 7}
    )
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 + 8 * DAY})
    sub = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    item = sub["items"].data[0]
    assert sub.status == "active" and item.current_period_start == T0 + 7 * DAY
    assert item.current_period_end > T0 + 34 * DAY
    invoice = sub.latest_invoice
    assert (invoice.status, invoice.amount_paid, invoice.billing_reason, invoice.created) == (
        "paid",
        2500,
        "subscription_cycle",
        T0 + 7 * DAY,
    )


def test_a_trial_ending_on_a_declining_card_makes_it_past_due(client: stripe.StripeClient, catalog: Any) -> None:
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": T0})
    customer, _ = customer_with(client, "pm_card_chargeCustomerFail", test_clock=clock.id)
    sub = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": catalog.pro.id}], "trial_period_days": 1}
    )
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 + 2 * DAY})
    sub = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert sub.status == "past_due" and sub["items"].data[0].current_period_start == T0 + DAY
    invoice = sub.latest_invoice
    assert (invoice.status, invoice.amount_paid, invoice.amount_remaining, invoice.attempt_count) == (
        "open",
        0,
        2500,
        1,
    )

    # A working card: the next renewal is paid and the subscription is active again.
    card = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": card.id}})
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 + 40 * DAY})
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_advancing_renews_periods_and_ends_scheduled_cancellations(client: stripe.StripeClient, catalog: Any) -> None:
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": T0})
    customer, _ = customer_with(client, test_clock=clock.id)
    coupon = client.v1.coupons.create({"percent_off": 50, "duration": "repeating", "duration_in_months": 1})

    def subscribe(price: str, **extra: Any) -> Any:
        return client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price}], **extra})

    renewing = subscribe(catalog.basic.id, discounts=[{"coupon": coupon.id}])
    at_period_end = subscribe(catalog.pro.id, cancel_at_period_end=True)
    mid_period = subscribe(catalog.pro.id)
    client.v1.subscriptions.update(mid_period.id, {"cancel_at": T0 + 10 * DAY})

    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 + 45 * DAY})  # 2027-03-01
    renewing = client.v1.subscriptions.retrieve(renewing.id)
    item = renewing["items"].data[0]
    assert renewing.status == "active" and item.current_period_start <= T0 + 45 * DAY < item.current_period_end
    # The first month at half price; the discount ended after a month, so the renewals are full price.
    assert [(i.billing_reason, i.amount_paid) for i in invoices(client, renewing.id)] == [
        ("subscription_create", 500),
        ("subscription_cycle", 1000),
    ]

    ended = client.v1.subscriptions.retrieve(at_period_end.id)
    assert (ended.status, ended.ended_at) == ("canceled", ended["items"].data[0].current_period_end)
    assert len(invoices(client, at_period_end.id)) == 1
    mid = client.v1.subscriptions.retrieve(mid_period.id)
    assert (mid.status, mid.ended_at) == ("canceled", T0 + 10 * DAY)

    # Two intervals of the shortest subscription (a month) at most.
    error = api_error(lambda: client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 + 120 * DAY}))
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "frozen_time"


def test_an_incomplete_subscription_expires_after_23_hours(client: stripe.StripeClient, catalog: Any) -> None:
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": T0})
    customer, _ = customer_with(client, "pm_card_chargeCustomerFail", test_clock=clock.id)
    sub = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": catalog.pro.id}]})
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 + 22 * 3600})
    assert client.v1.subscriptions.retrieve(sub.id).status == "incomplete"
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 + DAY})
    expired = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert (expired.status, expired.latest_invoice.status) == ("incomplete_expired", "void")
    assert client.v1.subscriptions.update(sub.id, {"metadata": {"a": "b"}}).metadata.a == "b"
    error = api_error(lambda: client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True}))
    assert "`canceled` or `incomplete_expired`" in str(error.user_message)


def test_deleting_a_clock_deletes_its_customers(client: stripe.StripeClient, catalog: Any) -> None:
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": T0, "name": "gone"})
    customer, card = customer_with(client, test_clock=clock.id)
    sub = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": catalog.pro.id}]})
    assert client.v1.test_helpers.test_clocks.delete(clock.id).deleted is True
    assert client.v1.customers.retrieve(customer.id).deleted is True
    gone = client.v1.subscriptions.retrieve(sub.id)
    assert (gone.status, gone.ended_at) == ("canceled", T0)
    assert client.v1.payment_methods.retrieve(card.id).customer is None


# -- A pause across a renewal --------------------------------------------------


def flexible_on_a_clock(client: stripe.StripeClient, catalog: Any) -> tuple[Any, Any]:
    """A test clock at T0 and a flexible monthly subscription (pausable) of a customer on it."""
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": T0})
    customer, _ = customer_with(client, test_clock=clock.id)
    sub = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": catalog.basic.id}], "billing_mode": {"type": "flexible"}}
    )
    return clock, sub


def paused_across_a_renewal(client: stripe.StripeClient, catalog: Any) -> tuple[Any, Any, int]:
    """A flexible monthly subscription paused on day 10 of its first period, its clock
    then moved 40 days on: past the renewal it would have had."""
    clock, sub = flexible_on_a_clock(client, catalog)
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 + 10 * DAY})
    client.v1.subscriptions.pause(sub.id)
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 + 50 * DAY})
    return clock, sub, T0 + 50 * DAY


def test_a_paused_subscription_is_not_billed_and_its_period_waits(client: stripe.StripeClient, catalog: Any) -> None:
    _, sub, _ = paused_across_a_renewal(client, catalog)
    paused = client.v1.subscriptions.retrieve(sub.id)
    assert paused.status == "paused"
    assert paused["items"].data[0].current_period_end == sub["items"].data[0].current_period_end
    assert [i.billing_reason for i in invoices(client, sub.id)] == ["subscription_create"]


@pytest.mark.parametrize(
    ("proration_behavior", "invoiced_now", "pending"),
    [("create_prorations", False, True), ("always_invoice", True, False), ("none", False, False)],
)
def test_resume_unchanged_after_a_renewal_prorates_the_unpaid_period(
    client: stripe.StripeClient, catalog: Any, proration_behavior: str, invoiced_now: bool, pending: bool
) -> None:
    clock, sub, now = paused_across_a_renewal(client, catalog)
    resumed = client.v1.subscriptions.resume(
        sub.id, {"billing_cycle_anchor": {"type": "unchanged"}, "proration_behavior": proration_behavior}
    )
    item, first = resumed["items"].data[0], sub["items"].data[0]
    # The anchor stays; the items move on to the period around now, the one after the paid one.
    assert resumed.status == "active" and resumed.billing_cycle_anchor == sub.billing_cycle_anchor
    assert item.current_period_start == first.current_period_end <= now < item.current_period_end
    share = (item.current_period_end - now) / (item.current_period_end - item.current_period_start)
    remaining = round(catalog.basic.unit_amount * share)
    made = invoices(client, sub.id)[1:]
    if invoiced_now:
        assert [(i.billing_reason, i.amount_paid) for i in made] == [("subscription_update", remaining)]
        assert made[0].lines.data[0].description.startswith("Remaining time on 1 ×")
    else:
        assert made == []
    # The next renewal carries the pending proration (and only then).
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": item.current_period_end + DAY})
    renewal = invoices(client, sub.id)[-1]
    assert renewal.billing_reason == "subscription_cycle"
    assert renewal.amount_paid == catalog.basic.unit_amount + (remaining if pending else 0)


def test_resume_unchanged_within_the_paid_period_bills_nothing(client: stripe.StripeClient, catalog: Any) -> None:
    clock, sub = flexible_on_a_clock(client, catalog)
    client.v1.subscriptions.pause(sub.id)
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 + 5 * DAY})
    resumed = client.v1.subscriptions.resume(sub.id, {"billing_cycle_anchor": {"type": "unchanged"}})
    assert resumed["items"].data[0].current_period_end == sub["items"].data[0].current_period_end
    assert len(invoices(client, sub.id)) == 1
