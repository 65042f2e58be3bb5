"""Downgrades at the end of the period: with `schedule_at_period_end.conditions` in the
portal configuration, a cheaper item or a shorter interval makes a subscription schedule
(phase 1: what the customer has until the period ends; phase 2: the new price) instead
of changing the subscription now; the clock passing the boundary moves the subscription,
and releasing the schedule keeps it as it is."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe
from werkzeug.test import Client

from standin import StandIn
from tests.standin.conftest import make_catalog

DAY = 86400
T0 = 1_800_000_000  # a clock's starting time (2027-01-15)
CONDITIONS = [{"type": "decreasing_item_amount"}, {"type": "shortening_interval"}]


@pytest.fixture
def scheduling(client: stripe.StripeClient) -> Any:
    """A catalog whose portal configuration keeps downgrades for the period's end."""
    catalog = make_catalog(client)
    client.v1.billing_portal.configurations.update(
        catalog.configuration.id,
        {"features": {"subscription_update": {"schedule_at_period_end": {"conditions": CONDITIONS}}}},
    )
    return catalog


@pytest.fixture
def events(stand_in: StandIn) -> list[tuple[str, dict[str, Any]]]:
    """Every event the stand-in sends: (type, object)."""
    sent: list[tuple[str, dict[str, Any]]] = []

    def deliver(body: bytes, headers: dict[str, str]) -> int:
        event = json.loads(body)
        sent.append((event["type"], event["data"]["object"]))
        return 200

    stand_in.configure_webhooks("whsec_x", deliver=deliver)
    return sent


def on_clock(client: stripe.StripeClient, price: str) -> tuple[Any, Any, Any]:
    """A clock, a customer on it with a card, and a paid subscription to `price` started at T0."""
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": T0})
    customer = client.v1.customers.create({"email": "ada@example.com", "test_clock": clock.id})
    card = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": card.id}})
    sub = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price}]})
    return clock, customer, sub


def confirm(client: stripe.StripeClient, web: Client, page_path: Any, customer: Any, sub: Any, price: str) -> Any:
    """The subscription_update_confirm deep link to `price`, opened and confirmed."""
    session = client.v1.billing_portal.sessions.create(
        {
            "customer": customer.id,
            "flow_data": {
                "type": "subscription_update_confirm",
                "subscription_update_confirm": {
                    "subscription": sub.id,
                    "items": [{"id": sub["items"].data[0].id, "price": price}],
                },
                "after_completion": {"type": "redirect", "redirect": {"return_url": "http://site.test/back"}},
            },
        }
    )
    page = web.get(page_path(session.url)).get_data(as_text=True)
    done = web.post(page_path(session.url))
    assert done.status_code == 303, done.get_data(as_text=True)
    return page


def test_a_downgrade_waits_for_the_period_end_in_a_schedule(
    client: stripe.StripeClient, web: Client, page_path: Any, scheduling: Any, events: list[Any]
) -> None:
    clock, customer, sub = on_clock(client, scheduling.pro.id)
    period_end = sub["items"].data[0].current_period_end
    events.clear()

    page = confirm(client, web, page_path, customer, sub, scheduling.basic.id)
    assert "Your new plan starts on" in page and "You keep your current plan until then." in page

    sub = client.v1.subscriptions.retrieve(sub.id, {"expand": ["schedule"]})
    schedule = sub.schedule
    assert isinstance(schedule, stripe.SubscriptionSchedule)
    # Nothing changed now: still Pro, and nothing invoiced.
    assert sub["items"].data[0].price.id == scheduling.pro.id
    assert len(client.v1.invoices.list({"subscription": sub.id}).data) == 1
    assert (schedule.status, schedule.end_behavior, schedule.subscription) == ("active", "release", sub.id)
    assert schedule.customer == customer.id and schedule.test_clock == clock.id
    first, second = schedule.phases
    assert [(i.price, i.quantity) for i in first.items] == [(scheduling.pro.id, 1)]
    assert (first.start_date, first.end_date) == (T0, period_end)
    assert [(i.price, i.quantity) for i in second.items] == [(scheduling.basic.id, 1)]
    assert second.start_date == period_end and second.end_date > period_end
    assert (schedule.current_phase.start_date, schedule.current_phase.end_date) == (T0, period_end)
    assert sorted(kind for kind, _ in events) == ["customer.subscription.updated", "subscription_schedule.created"]
    assert next(obj for kind, obj in events if kind == "customer.subscription.updated")["schedule"] == schedule.id

    # Passing the boundary: Basic from then on, invoiced at Basic's price for the new period.
    events.clear()
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": period_end + DAY})
    sub = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice", "schedule"]})
    item = sub["items"].data[0]
    assert item.price.id == scheduling.basic.id and item.current_period_start == period_end
    invoice = sub.latest_invoice
    assert (invoice.amount_paid, invoice.billing_reason, invoice.created) == (1000, "subscription_cycle", period_end)
    assert sub.schedule.status == "active"
    assert (sub.schedule.current_phase.start_date, sub.schedule.current_phase.end_date) == (
        second.start_date,
        second.end_date,
    )
    assert "subscription_schedule.updated" in [kind for kind, _ in events]
    assert "invoice.paid" in [kind for kind, _ in events]

    # After its last phase the schedule lets the subscription go on by itself (end_behavior release).
    events.clear()
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": second.end_date + DAY})
    sub = client.v1.subscriptions.retrieve(sub.id)
    released = client.v1.subscription_schedules.retrieve(schedule.id)
    assert sub.schedule is None and sub.status == "active" and sub["items"].data[0].price.id == scheduling.basic.id
    assert (released.status, released.released_subscription, released.subscription) == ("released", sub.id, None)
    assert "subscription_schedule.released" in [kind for kind, _ in events]


def test_releasing_keeps_the_current_plan(
    client: stripe.StripeClient, web: Client, page_path: Any, scheduling: Any, events: list[Any]
) -> None:
    clock, customer, sub = on_clock(client, scheduling.pro.id)
    period_end = sub["items"].data[0].current_period_end
    confirm(client, web, page_path, customer, sub, scheduling.basic.id)
    schedule_id = client.v1.subscriptions.retrieve(sub.id).schedule
    events.clear()

    released = client.v1.subscription_schedules.release(schedule_id)
    assert (released.status, released.released_at, released.released_subscription) == ("released", T0, sub.id)
    assert sorted(kind for kind, _ in events) == ["customer.subscription.updated", "subscription_schedule.released"]
    assert client.v1.subscriptions.retrieve(sub.id).schedule is None

    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": period_end + DAY})
    assert client.v1.subscriptions.retrieve(sub.id)["items"].data[0].price.id == scheduling.pro.id

    # Only a schedule that is not_started or active can be released.
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.subscription_schedules.release(schedule_id)
    assert "`released`" in str(again.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.subscription_schedules.release("sub_sched_nope")
    assert missing.value.http_status == 404


def test_an_upgrade_still_applies_at_once(
    client: stripe.StripeClient, web: Client, page_path: Any, scheduling: Any
) -> None:
    _, customer, sub = on_clock(client, scheduling.basic.id)
    confirm(client, web, page_path, customer, sub, scheduling.pro.id)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.schedule is None and sub["items"].data[0].price.id == scheduling.pro.id


def test_without_conditions_a_downgrade_applies_at_once(
    client: stripe.StripeClient, web: Client, page_path: Any, scheduling: Any
) -> None:
    client.v1.billing_portal.configurations.update(
        scheduling.configuration.id,
        {"features": {"subscription_update": {"schedule_at_period_end": {"conditions": ""}}}},
    )
    config = client.v1.billing_portal.configurations.retrieve(scheduling.configuration.id)
    assert config.features.subscription_update.schedule_at_period_end.conditions == []
    _, customer, sub = on_clock(client, scheduling.pro.id)
    confirm(client, web, page_path, customer, sub, scheduling.basic.id)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.schedule is None and sub["items"].data[0].price.id == scheduling.basic.id


def test_a_shorter_interval_waits_too_and_the_plan_picker_says_so(
    client: stripe.StripeClient, web: Client, page_path: Any, scheduling: Any
) -> None:
    yearly = client.v1.prices.create(
        {"product": "pro", "unit_amount": 25000, "currency": "usd", "recurring": {"interval": "year"}}
    )
    client.v1.billing_portal.configurations.update(
        scheduling.configuration.id,
        {
            "features": {
                "subscription_update": {
                    "products": [
                        {"product": "basic", "prices": [scheduling.basic.id]},
                        {"product": "pro", "prices": [scheduling.pro.id, yearly.id]},
                    ]
                }
            }
        },
    )
    _, customer, sub = on_clock(client, yearly.id)
    session = client.v1.billing_portal.sessions.create(
        {
            "customer": customer.id,
            "flow_data": {"type": "subscription_update", "subscription_update": {"subscription": sub.id}},
        }
    )
    page = web.get(page_path(session.url)).get_data(as_text=True)
    assert page.count("at the end of your billing period") == 2  # Basic and Pro monthly both wait
    web.post(page_path(session.url), data={"price": scheduling.pro.id})
    sub = client.v1.subscriptions.retrieve(sub.id, {"expand": ["schedule"]})
    assert sub["items"].data[0].price.id == yearly.id
    assert [i.price for i in sub.schedule.phases[1]["items"]] == [scheduling.pro.id]

    # While the change waits, the portal opens no other plan change.
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.billing_portal.sessions.create(
            {
                "customer": customer.id,
                "flow_data": {"type": "subscription_update", "subscription_update": {"subscription": sub.id}},
            }
        )
    assert "release the schedule" in str(refused.value.user_message)


def test_canceling_drops_the_coming_change(
    client: stripe.StripeClient, web: Client, page_path: Any, scheduling: Any, events: list[Any]
) -> None:
    _, customer, sub = on_clock(client, scheduling.pro.id)
    confirm(client, web, page_path, customer, sub, scheduling.basic.id)
    events.clear()
    session = client.v1.billing_portal.sessions.create(
        {
            "customer": customer.id,
            "flow_data": {"type": "subscription_cancel", "subscription_cancel": {"subscription": sub.id}},
        }
    )
    web.post(page_path(session.url))
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.schedule is None and sub.cancel_at is not None
    assert "subscription_schedule.released" in [kind for kind, _ in events]


def test_deleting_the_customer_cancels_the_schedule(
    client: stripe.StripeClient, web: Client, page_path: Any, scheduling: Any, events: list[Any]
) -> None:
    _, customer, sub = on_clock(client, scheduling.pro.id)
    confirm(client, web, page_path, customer, sub, scheduling.basic.id)
    schedule_id = client.v1.subscriptions.retrieve(sub.id).schedule
    client.v1.customers.delete(customer.id)
    assert client.v1.subscription_schedules.retrieve(schedule_id).status == "canceled"
    assert "subscription_schedule.canceled" in [kind for kind, _ in events]
