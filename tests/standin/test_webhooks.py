"""The stand-in's webhook events: made from state changes, signed, and
delivered late, twice or out of order when a test asks."""

from __future__ import annotations

import json
import random

import pytest
import stripe

SECRET = "whsec_standin_test"


class Inbox(list):
    def __init__(self):
        super().__init__()
        self.answers = []


@pytest.fixture
def inbox(stand_in):
    """Events delivered to a fake endpoint, verified as the app verifies them."""
    received = Inbox()
    answers = received.answers  # statuses to answer with, first to last; then 200

    def deliver(body, headers):
        event = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], SECRET)
        received.append(event)
        return answers.pop(0) if answers else 200

    stand_in.configure_webhooks(SECRET, deliver=deliver, mode="immediate")
    return received


def types(events):
    return [e.type for e in events]


def test_checkout_sends_what_stripe_sends(inbox, catalog, subscribe):
    subscribe(catalog.basic.id)
    assert {
        "payment_method.attached",
        "customer.updated",
        "customer.subscription.created",
        "invoice.paid",
        "checkout.session.completed",
    } <= set(types(inbox))


def test_each_change_has_its_event(client, inbox, catalog, subscribe):
    customer, sub = subscribe(catalog.basic.id)
    inbox.clear()
    client.v1.customers.update(customer.id, {"name": "Ada L."})
    assert types(inbox) == ["customer.updated"]
    assert inbox[0].data.previous_attributes.name == "Ada"

    inbox.clear()
    client.v1.subscriptions.pause(sub.id)
    assert types(inbox) == ["customer.subscription.updated", "customer.subscription.paused"]
    inbox.clear()
    client.v1.subscriptions.resume(sub.id, {"billing_cycle_anchor": {"type": "unchanged"}})
    assert types(inbox) == ["customer.subscription.updated", "customer.subscription.resumed"]

    inbox.clear()
    card = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    assert types(inbox) == ["payment_method.attached"] and inbox[0].data.object.id == card.id

    inbox.clear()
    client.v1.subscriptions.cancel(sub.id)
    assert types(inbox) == ["customer.subscription.deleted"]
    inbox.clear()
    client.v1.customers.delete(customer.id)
    assert "customer.deleted" in types(inbox)
    detached = [e for e in inbox if e.type == "payment_method.detached"]
    assert detached and detached[0].data.object.customer is None
    assert detached[0].data.previous_attributes.customer == customer.id


def test_a_declined_renewal_sends_payment_failed(client, inbox, catalog):
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": 1_800_000_000})
    customer = client.v1.customers.create({"email": "b@example.com", "test_clock": clock.id})
    card = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": customer.id})
    client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": card.id}})
    client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": catalog.pro.id}], "trial_period_days": 1}
    )
    inbox.clear()
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": 1_800_000_000 + 2 * 86400})
    assert {"customer.subscription.updated", "invoice.payment_failed"} <= set(types(inbox))


def test_reads_send_nothing(client, inbox, catalog, subscribe):
    customer, _ = subscribe(catalog.basic.id)
    inbox.clear()
    client.v1.customers.retrieve(customer.id)
    client.v1.subscriptions.list({"customer": customer.id})
    assert inbox == []


def test_queued_events_go_late_twice_and_shuffled(stand_in, client, inbox, catalog, subscribe):
    stand_in.webhooks.mode = "queued"
    inbox.clear()  # the catalog's own price.* and product.* events
    customer, _ = subscribe(catalog.basic.id)
    for n in range(5):
        client.v1.customers.update(customer.id, {"metadata": {"n": str(n)}})
    assert inbox == []
    queued = [e["id"] for e in stand_in.webhooks.pending]
    stand_in.webhooks.duplicates = True
    sent = stand_in.deliver_webhooks(shuffle=random.Random(3))
    assert sorted(event_id for event_id, _ in sent) == sorted(queued * 2)
    assert [event_id for event_id, _ in sent] != [i for i in queued for _ in (1, 2)]  # really shuffled
    assert stand_in.webhooks.pending == []


def test_a_failed_delivery_stays_pending_and_is_retried(stand_in, client, inbox, catalog, subscribe):
    stand_in.webhooks.mode = "queued"
    customer, _ = subscribe(catalog.basic.id)
    stand_in.deliver_webhooks()
    client.v1.customers.update(customer.id, {"name": "Retry"})
    inbox.answers.append(500)
    assert [status for _, status in stand_in.deliver_webhooks()] == [500]
    assert len(stand_in.webhooks.pending) == 1
    assert [status for _, status in stand_in.deliver_webhooks()] == [200]
    assert stand_in.webhooks.pending == []
    assert [e.type for e in inbox[-2:]] == ["customer.updated", "customer.updated"]


def test_the_body_is_a_stripe_event(inbox, client, catalog, subscribe):
    customer, _ = subscribe(catalog.basic.id)
    inbox.clear()
    client.v1.customers.update(customer.id, {"name": "Shape"})
    event = inbox[0]
    assert event.id.startswith("evt_") and event.api_version == "2026-10-28.endive"
    assert json.loads(json.dumps(event.to_dict()))["data"]["object"]["object"] == "customer"


def test_a_trial_shorter_than_three_days_sends_trial_will_end_at_once(client, inbox, catalog):
    # https://docs.stripe.com/billing/subscriptions/trials: three days before the end, or at once.
    customer = client.v1.customers.create({"email": "t@example.com"})
    client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": catalog.pro.id}], "trial_period_days": 1}
    )
    assert "customer.subscription.trial_will_end" in types(inbox)
    inbox.clear()
    client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": catalog.pro.id}], "trial_period_days": 14}
    )
    assert "customer.subscription.trial_will_end" not in types(inbox)


def test_portal_configuration_changes_send_what_stripe_sends(client, inbox, catalog):
    inbox.clear()  # the catalog's own events
    made = client.v1.billing_portal.configurations.create({"features": {"invoice_history": {"enabled": True}}})
    assert types(inbox) == ["billing_portal.configuration.created"] and inbox[0].data.object.id == made.id
    inbox.clear()
    features = {"subscription_cancel": {"mode": "immediately"}}
    client.v1.billing_portal.configurations.update(catalog.configuration.id, {"features": features})
    (event,) = inbox
    assert event.type == "billing_portal.configuration.updated"
    assert event.data.object.features.subscription_cancel.mode == "immediately"
    assert event.data.previous_attributes.features.subscription_cancel.mode == "at_period_end"
