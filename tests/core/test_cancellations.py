"""Cancellation insights, the core's part: `cancellation_details` mirrored from webhooks
and the way back, and the history of cancellations (one row each, however often the
same state is read), scheduled or immediate, renewed, and retention offers taken."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from billing.models import Cancellation, db
from tests.core.test_webhooks import post_event, subscription_event
from tests.helpers import follow, local_path


def rows(app):
    with app.app_context():
        return [
            {c.key: getattr(row, c.key) for c in Cancellation.__table__.columns}
            for row in db.session.scalars(db.select(Cancellation).order_by(Cancellation.id))
        ]


@pytest.fixture
def subscriber(auth):
    auth.signup()
    auth.subscribe("pro_monthly")
    return auth


def stripe_subscription(standin, auth):
    return standin.state.get(auth.user().subscription.stripe_subscription_id, "subscription")


def schedule_on_stripe(sub, feedback="too_expensive", comment="Over budget this quarter."):
    """What the portal leaves on the subscription after a cancellation at period end (flexible mode)."""
    asked = int(time.time()) - 60
    sub.update(cancel_at=sub["items"]["data"][0]["current_period_end"], canceled_at=asked)
    sub["cancellation_details"] = {"reason": "cancellation_requested", "feedback": feedback, "comment": comment}
    return asked


def test_a_webhook_mirrors_cancellation_details_and_records_the_cancellation(client, app, standin, subscriber):
    sub = stripe_subscription(standin, subscriber)
    asked = schedule_on_stripe(sub)
    assert post_event(client, subscription_event(standin, subscriber)).get_json()["outcome"] == "recorded"

    mirrored = subscriber.user().subscription
    assert (mirrored.cancellation_reason, mirrored.cancellation_feedback, mirrored.cancellation_comment) == (
        "cancellation_requested",
        "too_expensive",
        "Over budget this quarter.",
    )
    [row] = rows(app)
    assert row["stripe_subscription_id"] == sub["id"] and row["stripe_customer_id"] == subscriber.user().customer
    assert row["account_id"] == subscriber.user().id
    assert row["requested_at"] == datetime.fromtimestamp(asked, UTC).replace(tzinfo=None)  # Stripe's canceled_at
    assert (row["at_period_end"], row["offer_accepted"], row["withdrawn_at"]) == (True, False, None)
    assert row["effective_at"] == mirrored.cancel_at
    assert (row["reason"], row["feedback"], row["comment"]) == (
        "cancellation_requested",
        "too_expensive",
        "Over budget this quarter.",
    )


def test_the_same_state_read_again_keeps_one_row(client, app, standin, subscriber):
    schedule_on_stripe(stripe_subscription(standin, subscriber))
    body = subscription_event(standin, subscriber)
    assert post_event(client, body).get_json()["outcome"] == "recorded"
    assert post_event(client, body).get_json()["outcome"] == "duplicate"
    # Another event about the same state, then the way back from the portal: still one row.
    assert post_event(client, subscription_event(standin, subscriber, "evt_test_2")).get_json()["outcome"] == "recorded"
    follow(client, client.get("/account/return"))
    assert len(rows(app)) == 1


def test_a_scheduled_cancellation_that_ends_stays_one_row_at_period_end(client, app, standin, subscriber):
    sub = stripe_subscription(standin, subscriber)
    schedule_on_stripe(sub)
    post_event(client, subscription_event(standin, subscriber))
    sub.update(status="canceled", ended_at=sub["cancel_at"])  # its date came
    post_event(client, subscription_event(standin, subscriber, "evt_end", "customer.subscription.deleted"))
    [row] = rows(app)
    assert row["at_period_end"] is True and row["effective_at"] == subscriber.user().subscription.ended_at


def test_an_immediate_cancellation_replaces_a_scheduled_one(client, app, standin, subscriber):
    sub = stripe_subscription(standin, subscriber)
    asked = schedule_on_stripe(sub)
    post_event(client, subscription_event(standin, subscriber))
    now = asked + 30  # then "cancel now": Stripe moves canceled_at to the new request
    sub.update(status="canceled", canceled_at=now, ended_at=now)
    sub["cancellation_details"]["feedback"] = "unused"
    post_event(client, subscription_event(standin, subscriber, "evt_now", "customer.subscription.deleted"))
    scheduled, immediate = rows(app)
    assert scheduled["withdrawn_at"] is not None and scheduled["at_period_end"] is True
    assert immediate["withdrawn_at"] is None and immediate["at_period_end"] is False
    assert immediate["feedback"] == "unused" and immediate["effective_at"] == immediate["requested_at"]


def test_a_renewed_cancellation_is_withdrawn(client, app, standin, subscriber):
    sub = stripe_subscription(standin, subscriber)
    schedule_on_stripe(sub)
    post_event(client, subscription_event(standin, subscriber))
    sub.update(cancel_at=None, cancel_at_period_end=False, canceled_at=None)  # the portal's "Renew"
    sub["cancellation_details"] = {"reason": None, "feedback": None, "comment": None}
    post_event(client, subscription_event(standin, subscriber, "evt_renew"))
    [row] = rows(app)
    assert row["withdrawn_at"] is not None and row["feedback"] == "too_expensive"
    assert subscriber.user().subscription.cancellation_feedback is None


def test_a_retention_offer_taken_in_the_portal_is_recorded_once(client, app, standin, subscriber):
    response = subscriber.post("/account/cancel")
    follow(client, client.post(local_path(response.headers["Location"]), data={"choice": "accept"}))
    follow(client, client.get("/account/return"))
    standin.deliver_webhooks()
    [row] = rows(app)
    assert (row["offer_accepted"], row["at_period_end"], row["feedback"]) == (True, False, None)
    assert row["requested_at"] == subscriber.user().subscription.discount_started_at
    assert subscriber.user().subscription.cancel_at is None  # nothing was canceled


def test_cancelling_through_the_portal_with_a_reason_records_it(client, app, standin, subscriber):
    response = subscriber.post("/account/cancel")
    session = local_path(response.headers["Location"])
    assert "Why are you canceling?" in client.get(session).get_data(as_text=True)
    done = client.post(session, data={"choice": "decline", "feedback": "missing_features", "comment": "No API"})
    follow(client, done)
    standin.deliver_webhooks()
    follow(client, client.get("/account/return"))
    [row] = rows(app)
    assert (row["feedback"], row["comment"], row["reason"], row["at_period_end"]) == (
        "missing_features",
        "No API",
        "cancellation_requested",
        True,
    )
