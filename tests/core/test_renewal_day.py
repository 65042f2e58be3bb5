"""Renewal day: many events for one customer cost one read of Stripe, a refresh that is
reading when another event lands is followed by exactly one more, two refreshes that race
keep the later read, and no Stripe call is made while a write transaction is open."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import stripe
from sqlalchemy import event

from billing import mirror, worker
from billing.models import BillingAccount, StripeEvent, db
from tests.core.test_webhooks import post_event
from tests.helpers import TEST_CATALOG, core_app, event_body, prepared_standin


@pytest.fixture
def app(tmp_path):
    """The site, its Stripe refusing any call made while a write transaction is open
    (every test here, and the one at the end that walks through every kind of call)."""
    standin = prepared_standin(catalog=TEST_CATALOG)
    guarded = GuardedStripe(standin.http_client())
    app = core_app(tmp_path, standin, STRIPE_HTTP_CLIENT=guarded)
    with app.app_context():
        writes = WritesOpen(db.engine)
    guarded.still_writing = lambda: bool(writes.writing)
    app.extensions["guarded_stripe"] = guarded
    return app


@pytest.fixture
def queued(app):
    """The subjects the webhook queued, to run by hand (instead of at once, as the tests' queue does)."""
    subjects: list[str] = []
    app.extensions["queue"]._refresh = subjects.append
    return subjects


def reads(standin) -> list[str]:
    return [r.path for r in standin.requests if r.method == "GET"]


def customer_event(standin, auth, n: int, event_type="invoice.paid") -> str:
    return event_body(event_type, {"object": "invoice", "customer": auth.user().customer}, f"evt_storm_{n}")


def run(app, subjects: list[str]) -> None:
    with app.app_context():
        while subjects:
            worker.refresh(subjects.pop(0))


def test_many_events_for_one_customer_cost_one_read(app, client, standin, subscriber, queued):
    sub = standin.state.get(subscriber.user().subscription.stripe_subscription_id, "subscription")
    sub["cancel_at_period_end"] = True
    standin.clear_requests()
    for n in range(6):
        assert post_event(client, customer_event(standin, subscriber, n)).get_json()["outcome"] == "recorded"
    assert reads(standin) == []  # the webhook asked Stripe nothing
    assert len(queued) == 1  # one job: each later event found the first still waiting
    run(app, queued)
    assert reads(standin) == ["/v1/subscriptions"]  # one read: the customer came expanded inside
    assert subscriber.user().subscription.cancel_at_period_end is True
    with app.app_context():
        pending = db.session.scalars(db.select(StripeEvent).where(StripeEvent.applied_at.is_(None))).all()
        assert pending == []


def test_an_event_landing_during_a_refresh_gets_exactly_one_more(app, client, standin, subscriber, queued):
    for n in range(3):
        post_event(client, customer_event(standin, subscriber, n))
    landed: list[int] = []
    guarded = app.extensions["guarded_stripe"]

    def two_land_while_stripe_answers(method, url):
        # While the first refresh waits on Stripe, two more events arrive.
        if "/v1/subscriptions" in url and not landed:
            landed.append(1)
            # From another thread, as a webhook request is: not inside the worker's context.
            delivery = threading.Thread(
                target=lambda: [post_event(client, customer_event(standin, subscriber, n)) for n in (10, 11)]
            )
            delivery.start()
            delivery.join(30)

    guarded.on_request = two_land_while_stripe_answers
    standin.clear_requests()
    run(app, queued)
    # The first read answered events 0-2; events 10 and 11 came after it began: one more
    # job (queued by 10; 11 found 10 waiting), one more read.
    assert reads(standin) == ["/v1/subscriptions", "/v1/subscriptions"]
    assert landed == [1] and queued == []
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).where(StripeEvent.applied_at.is_(None))) == 0


def test_two_refreshes_that_race_keep_the_later_read(app, standin, subscriber):
    sub = standin.state.get(subscriber.user().subscription.stripe_subscription_id, "subscription")
    api = app.extensions["stripe"]
    with app.app_context():
        account = db.session.get(BillingAccount, subscriber.user().id)
        customer = account.stripe_customer_id
        older = mirror.take_ticket(account)
        early = api.customer_state(customer)  # read before the customer scheduled a cancellation
        sub["cancel_at_period_end"] = True
        later = mirror.take_ticket(account)
        late = api.customer_state(customer)
        # The later read is written first; the earlier one, finishing last, is dropped.
        assert mirror.write(account, later, *late) is True
        db.session.commit()
        assert mirror.write(account, older, *early) is False
        db.session.commit()
    assert subscriber.user().subscription.cancel_at_period_end is True


class WritesOpen:
    """Which database connections have written in their open transaction."""

    def __init__(self, engine) -> None:
        self.writing: set[int] = set()
        event.listen(engine, "before_cursor_execute", self._executed)
        event.listen(engine, "commit", self._ended)
        event.listen(engine, "rollback", self._ended)

    def _executed(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            self.writing.add(id(conn.connection.dbapi_connection))

    def _ended(self, conn) -> None:
        self.writing.discard(id(conn.connection.dbapi_connection))


class GuardedStripe(stripe.HTTPClient):
    """The tests' in-process Stripe, refusing any call made while a write transaction is open."""

    name = "guarded"

    def __init__(self, inner: stripe.HTTPClient) -> None:
        super().__init__()
        self.inner, self.calls = inner, 0
        self.still_writing: Callable[[], bool] = lambda: False
        self.on_request: Callable[[str, str], None] = lambda method, url: None

    def request(self, method, url, headers, post_data=None, **kwargs):
        assert not self.still_writing(), f"Stripe called inside an open write transaction: {method} {url}"
        self.calls += 1
        self.on_request(method, url)
        return self.inner.request(method, url, headers, post_data, **kwargs)

    def close(self) -> None:
        self.inner.close()


def test_no_stripe_call_is_made_inside_an_open_write_transaction(app, client, standin, subscriber, queued):
    guarded = app.extensions["guarded_stripe"]
    before = guarded.calls
    # A storm of events with emails, the background refresh, a flow's return, a resync, a button.
    for n in range(4):
        post_event(client, customer_event(standin, subscriber, n, "invoice.payment_failed"))
    run(app, queued)
    subscriber.client.get("/account/return")
    assert app.test_cli_runner().invoke(args=["stripe", "resync"]).exit_code == 0
    assert subscriber.post("/account/billing").status_code == 303
    assert guarded.calls - before >= 4


def test_the_guard_refuses_a_call_made_inside_a_write(app, subscriber):
    """The check above can fail: the same call inside an open write transaction is refused."""
    with app.app_context():
        account = db.session.get(BillingAccount, subscriber.user().id)
        account.locale = "fr"
        db.session.flush()  # written, not committed
        with pytest.raises(AssertionError, match="inside an open write transaction"):
            app.extensions["stripe"].customer(account.stripe_customer_id)
        db.session.rollback()


def test_a_later_read_of_the_card_alone_keeps_an_earlier_read_of_the_subscription(app, standin, subscriber):
    """The worker reads a subscription change; a card update's return (the details only)
    reads later and writes first: the worker's subscription is still written."""
    sub = standin.state.get(subscriber.user().subscription.stripe_subscription_id, "subscription")
    api = app.extensions["stripe"]
    with app.app_context():
        account = db.session.get(BillingAccount, subscriber.user().id)
        customer = account.stripe_customer_id
        sub["cancel_at_period_end"] = True
        worker_ticket = mirror.take_ticket(account)
        worker_read = api.customer_state(customer)
        assert mirror.refresh(api, account, only="customer") is False  # the return: a later ticket
        db.session.commit()
        assert mirror.write(account, worker_ticket, *worker_read) is True
        db.session.commit()
    assert subscriber.user().subscription.cancel_at_period_end is True


def test_a_read_stripe_refuses_for_good_is_set_aside_not_retried_forever(
    app, client, standin, subscriber, queued, caplog
):
    post_event(client, customer_event(standin, subscriber, 1))
    standin.fail_next("GET", "/v1/subscriptions", status=404, error_type="invalid_request_error", count=1)
    run(app, queued)  # no exception: nothing for the queue to retry
    assert "Gave up on 1 event(s) for cus_" in caplog.text
    with app.app_context():
        assert db.session.get(StripeEvent, "evt_storm_1").applied_at is not None
