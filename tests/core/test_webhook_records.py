"""The webhook only records: a database failure is the one thing that answers 503, and a
queue that can't be reached loses nothing (the event waits in the database for the sweep)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from billing import inbox, worker
from billing.models import StripeEvent, db
from tests.core.test_renewal_day import customer_event
from tests.core.test_webhooks import post_event
from tests.helpers import free_port


@pytest.fixture
def app_settings():
    # A Redis that is down (nothing listens there): the queue can't be reached.
    return {"QUEUE_URL": f"redis://127.0.0.1:{free_port()}/0"}


def test_a_database_failure_answers_503_so_stripe_retries(app, client, standin, subscriber, monkeypatch):
    def down(event, payload):
        raise OperationalError("INSERT", {}, ConnectionRefusedError("the database is down"))

    monkeypatch.setattr(inbox, "record", down)
    answer = post_event(client, customer_event(standin, subscriber, 1))
    assert answer.status_code == 503
    assert answer.get_json() == {"error": "The event could not be recorded now; retry later."}


def test_with_the_queue_down_the_event_is_kept_and_the_sweep_applies_it(app, client, standin, subscriber, caplog):
    sub = standin.state.get(subscriber.user().subscription.stripe_subscription_id, "subscription")
    sub["cancel_at_period_end"] = True
    answer = post_event(client, customer_event(standin, subscriber, 1))
    assert answer.status_code == 200 and answer.get_json()["outcome"] == "recorded"
    assert "Could not queue a refresh of cus_" in caplog.text
    with app.app_context():
        event = db.session.get(StripeEvent, "evt_storm_1")
        assert event.applied_at is None
        event.received_at -= timedelta(seconds=worker.UNCLAIMED_SECONDS + 1)  # five minutes later
        db.session.commit()
        worker.sweep(enqueue=worker.refresh)  # Redis is back: the sweep queues it, a worker runs it
        assert db.session.get(StripeEvent, "evt_storm_1").applied_at is not None
    assert subscriber.user().subscription.cancel_at_period_end is True


def test_a_claim_whose_worker_died_is_dropped_and_the_event_done_again(app, client, standin, subscriber):
    post_event(client, customer_event(standin, subscriber, 1))
    with app.app_context():
        claim = inbox.claim(subscriber.user().customer)
        assert claim is not None  # ... and the worker holding it was killed here
        assert worker.sweep(enqueue=lambda subject: None) is None
        event = db.session.get(StripeEvent, "evt_storm_1")
        assert event.claimed_by == claim[0]  # a recent claim is left to its refresh
        event.claimed_at -= timedelta(seconds=worker.CLAIMED_SECONDS + 1)
        db.session.commit()
        worker.sweep(enqueue=worker.refresh)
        assert db.session.get(StripeEvent, "evt_storm_1").applied_at is not None
