"""The webhook endpoint: signatures, exactly-once application, no regression
from late events, and no partial writes when handling fails."""

from __future__ import annotations

import json
import time

import pytest
import stripe

from app import create_app
from billing import worker
from billing.models import StripeEvent, db
from tests.helpers import TEST_CATALOG, WEBHOOK_SECRET, database_url, event_body

SECRET = WEBHOOK_SECRET


def post_event(client, body, secret=SECRET, timestamp=None, header=None):
    if header is None:
        header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp or int(time.time()))
    headers = {"Content-Type": "application/json"}
    if header:
        headers["Stripe-Signature"] = header
    return client.post("/stripe/webhook", data=body, headers=headers)


def recorded_events(app):
    with app.app_context():
        return db.session.scalars(db.select(StripeEvent.id)).all()


def subscription_event(standin, auth, event_id="evt_test_1", event_type="customer.subscription.updated"):
    sub = standin.state.get(auth.user().subscription.stripe_subscription_id, "subscription")
    return event_body(event_type, json.loads(json.dumps(sub)), event_id)


# --- signatures --------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    ["unsigned", "wrong secret", "tampered", "stale", "from the future", "garbage header"],
)
def test_refuses_what_stripe_did_not_sign_now(client, app, standin, subscriber, case):
    body = subscription_event(standin, subscriber)
    if case == "unsigned":
        response = post_event(client, body, header="")
    elif case == "wrong secret":
        response = post_event(client, body, secret="whsec_someone_else")
    elif case == "tampered":
        header = stripe.WebhookSignature.generate_signature_header(body, SECRET, int(time.time()))
        response = post_event(client, body.replace('"starter_monthly"', '"business_monthly"'), header=header)
    elif case == "stale":
        response = post_event(client, body, timestamp=int(time.time()) - 600)
    elif case == "from the future":  # signed for later: as replayable as a stale one
        response = post_event(client, body, timestamp=int(time.time()) + 3600)
    else:
        response = post_event(client, body, header="t=abc,v1=nothex")
    assert response.status_code == 400
    assert "error" in response.get_json()
    assert recorded_events(app) == []


@pytest.mark.parametrize("seconds", [-600, 600, 3600])
def test_a_timestamp_outside_five_minutes_either_way_is_refused_in_the_same_words(
    client, app, subscriber, standin, seconds
):
    body = subscription_event(standin, subscriber)
    response = post_event(client, body, timestamp=int(time.time()) + seconds)
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("Bad signature: Timestamp outside the tolerance zone (")
    assert recorded_events(app) == []


def test_a_clock_a_little_ahead_of_ours_is_not_refused(client, app, subscriber, standin):
    body = subscription_event(standin, subscriber)
    assert post_event(client, body, timestamp=int(time.time()) + 120).status_code == 200


def test_refuses_every_event_when_no_secret_is_set(tmp_path, caplog):
    app = create_app(
        {
            "TESTING": True,
            "STRIPE_SECRET_KEY": "sk_test_nosecret",
            "STRIPE_API_BASE": "http://127.0.0.1:9",
            "SECRET_KEY": "test-secret-key-not-for-production",
            "DATABASE_URL": database_url(tmp_path, "x"),
            "CATALOG_PATH": TEST_CATALOG,
        }
    )
    body = event_body("customer.updated", {"id": "cus_1", "object": "customer"})
    response = post_event(app.test_client(), body)
    assert response.status_code == 400
    assert "STRIPE_WEBHOOK_SECRET is not set" in caplog.text


def test_needs_no_csrf_token_but_only_post(client):
    assert client.get("/stripe/webhook").status_code == 405


# --- applying events -------------------------------------------------------------------


def test_a_signed_event_refreshes_that_customer_from_stripe(client, app, standin, subscriber):
    # The customer changed plan on Stripe's side; the site learns it from the event.
    sub = standin.state.get(subscriber.user().subscription.stripe_subscription_id, "subscription")
    sub["cancel_at_period_end"] = True
    response = post_event(client, subscription_event(standin, subscriber))
    assert response.status_code == 200
    assert response.get_json() == {"received": "evt_test_1", "outcome": "recorded"}
    assert subscriber.user().subscription.cancel_at_period_end is True
    assert recorded_events(app) == ["evt_test_1"]


def test_a_redelivered_event_is_applied_once(client, app, standin, subscriber):
    body = subscription_event(standin, subscriber)
    assert post_event(client, body).get_json()["outcome"] == "recorded"
    standin.clear_requests()
    again = post_event(client, body)
    assert again.status_code == 200 and again.get_json()["outcome"] == "duplicate"
    assert standin.requests == []  # nothing re-read, nothing re-applied
    assert recorded_events(app) == ["evt_test_1"]


def test_a_late_event_cannot_bring_back_an_older_state(client, standin, subscriber):
    old = subscription_event(standin, subscriber, "evt_old")  # says: no cancellation scheduled
    sub = standin.state.get(subscriber.user().subscription.stripe_subscription_id, "subscription")
    sub["cancel_at_period_end"] = True
    assert post_event(client, subscription_event(standin, subscriber, "evt_new")).status_code == 200
    # The older event arrives last: the site re-reads Stripe and keeps the newer state.
    assert post_event(client, old).get_json()["outcome"] == "recorded"
    assert subscriber.user().subscription.cancel_at_period_end is True


def test_unknown_types_are_acknowledged_and_ignored(client, app):
    response = post_event(client, event_body("charge.refunded", {"id": "ch_1", "object": "charge"}))
    assert response.status_code == 200 and response.get_json()["outcome"] == "ignored"
    assert recorded_events(app) == []


def test_an_event_for_a_customer_of_no_user_is_recorded_and_changes_nothing(client, app):
    response = post_event(client, event_body("customer.updated", {"id": "cus_unknown", "object": "customer"}))
    assert response.get_json()["outcome"] == "recorded"
    assert recorded_events(app) == ["evt_test_1"]


def test_stripe_failing_leaves_the_event_pending_and_the_next_refresh_applies_it(client, app, standin, subscriber):
    sub = standin.state.get(subscriber.user().subscription.stripe_subscription_id, "subscription")
    sub["cancel_at_period_end"] = True
    body = subscription_event(standin, subscriber)
    # The background refresh reads the subscriptions (one read); it fails, after the SDK's retries.
    standin.fail_next("GET", "/v1/subscriptions", status=500, count=3)
    answer = post_event(client, body)
    assert answer.status_code == 200 and answer.get_json()["outcome"] == "recorded"  # Stripe is told it is safe
    with app.app_context():
        event = db.session.get(StripeEvent, "evt_test_1")
        assert event.applied_at is None and event.claimed_by is None  # pending, for the retry
    assert subscriber.user().subscription.cancel_at_period_end is False  # not half-applied

    assert post_event(client, body).get_json()["outcome"] == "duplicate"  # a redelivery adds nothing
    with app.app_context():  # the queue's retry (or the sweep) runs the refresh again
        worker.refresh(subscriber.user().customer)
        assert db.session.get(StripeEvent, "evt_test_1").applied_at is not None
    assert subscriber.user().subscription.cancel_at_period_end is True


def test_payment_method_events_refresh_the_card_shown(client, standin, subscriber):
    customer = standin.state.get(subscriber.user().customer, "customer")
    card = standin.state.get(customer["invoice_settings"]["default_payment_method"], "payment_method")
    card["card"]["last4"] = "4444"
    card["card"]["brand"] = "mastercard"
    body = event_body("payment_method.detached", {**card, "customer": None}, previous={"customer": customer["id"]})
    assert post_event(client, body).get_json()["outcome"] == "recorded"
    page = subscriber.client.get("/account").get_data(as_text=True)
    assert "Mastercard ending in 4444" in page


def test_customer_updated_refreshes_the_billing_details(client, standin, subscriber):
    customer = standin.state.get(subscriber.user().customer, "customer")
    customer["name"] = "Ada Lovelace"
    customer["address"].update(line1="12 St James's Square", city="London", postal_code="SW1Y 4JH", country="GB")
    assert post_event(client, event_body("customer.updated", customer)).status_code == 200
    page = subscriber.client.get("/account").get_data(as_text=True)
    assert "Ada Lovelace" in page
    assert "12 St James&#39;s Square, London SW1Y 4JH, GB" in page
