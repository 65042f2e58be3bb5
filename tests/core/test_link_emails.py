"""The emails webhooks prepare: a failed payment and a trial about to end each hand one
message, with a signed link to a new card, to `send_email`, once per event."""

from __future__ import annotations

import json
import logging
import re

import pytest

from billing import portal_facts, worker
from billing.eligibility import PortalFeatures
from billing.email import SENDER, Message
from billing.models import Notice, db
from billing.snapshots import PortalSnapshot
from tests.core.test_past_due import make_past_due
from tests.core.test_webhooks import post_event
from tests.helpers import account_of, event_body, local_path

LINK = re.compile(r"http://localhost/links/\S+")


@pytest.fixture
def outbox(app):
    sent: list[Message] = []
    app.extensions[SENDER] = sent.append
    return sent


def test_a_failed_payment_sends_one_email_whose_link_opens_the_card_step(app, client, auth, standin, outbox):
    auth.signup()
    auth.subscribe("starter_monthly")
    auth.signout()
    make_past_due(standin)  # delivers its events: invoice.payment_failed among them
    [message] = outbox
    assert message.to == "ada@example.com"
    assert message.subject == "Your Acme Cloud payment failed: please update your card"
    assert "$9 is still due" in message.text and "the link works once, until" in message.text
    [link] = LINK.findall(message.text)
    page = client.get(local_path(link))
    assert page.status_code == 200
    assert "Update the card for the account of a…@example.com" in page.get_data(as_text=True)


def test_a_redelivered_event_sends_nothing_more(app, client, standin, subscriber, outbox):
    sub = standin.state.get(subscriber.user().subscription.stripe_subscription_id, "subscription")
    invoice = {"object": "invoice", "id": "in_test_1", "customer": sub["customer"], "status": "open"}
    body = event_body("invoice.payment_failed", invoice, "evt_failed_1")
    answers = [post_event(client, body).get_json()["outcome"] for _ in range(3)]
    assert answers == ["recorded", "duplicate", "duplicate"]
    assert len(outbox) == 1
    # Another failed attempt is another event, and another email.
    assert post_event(client, event_body("invoice.payment_failed", invoice, "evt_failed_2")).status_code == 200
    assert len(outbox) == 2 and outbox[0].text != outbox[1].text  # each with a link of its own


def trial_will_end(standin, subscriber, event_id="evt_trial_1"):
    sub = standin.state.get(subscriber.user().subscription.stripe_subscription_id, "subscription")
    return event_body("customer.subscription.trial_will_end", json.loads(json.dumps(sub)), event_id)


@pytest.fixture
def trialing(app, auth, standin):
    """trialing(card=False): a customer in a 14-day trial of Pro, with a card on file or none."""

    def make(card=False):
        auth.signup()
        api = app.extensions["stripe"]
        customer = api.create_customer("ada@example.com", auth.user().owner, "trial-test")
        if card:
            pm = api.client.v1.payment_methods.attach("pm_card_visa", {"customer": customer})
            api.client.v1.customers.update(customer, {"invoice_settings": {"default_payment_method": pm.id}})
        with app.app_context():
            account_of("ada@example.com").use_customer(customer, "test")
            db.session.commit()
        [price] = [p for p in standin.state.all("price") if p["lookup_key"] == "pro_monthly"]
        api.client.v1.subscriptions.create(
            {"customer": customer, "items": [{"price": price["id"]}], "trial_period_days": 14}
        )
        standin.deliver_webhooks()
        assert auth.user().subscription.status == "trialing"
        return auth

    return make


def test_a_trial_about_to_end_asks_for_a_payment_method(client, standin, trialing, outbox):
    auth = trialing()
    assert outbox == []  # 14 days: Stripe says so 3 days before the end
    assert post_event(client, trial_will_end(standin, auth)).status_code == 200
    [message] = outbox
    assert message.subject.startswith("Your Acme Cloud trial ends on ")
    assert "then $29 per month" in message.text
    assert "Add a payment method so that your subscription continues" in message.text
    assert len(LINK.findall(message.text)) == 1


def test_a_trial_with_a_card_says_which_and_offers_another(client, standin, trialing, outbox):
    auth = trialing(card=True)
    assert post_event(client, trial_will_end(standin, auth)).status_code == 200
    [message] = outbox
    assert "We will charge your Visa ending in 4242. To use another one" in message.text


def test_a_late_trial_will_end_sends_nothing_once_the_trial_is_over(client, standin, subscriber, outbox):
    assert post_event(client, trial_will_end(standin, subscriber)).get_json()["outcome"] == "recorded"
    assert outbox == []


def test_a_mailer_that_fails_is_tried_again_by_the_sweep_and_sends_once(app, client, standin, trialing, outbox, caplog):
    subscriber = trialing()

    def down(message):
        raise ConnectionRefusedError(f"smtp://mailer:hunter2@smtp.example.com:587 while sending {message.text}")

    app.extensions[SENDER] = down
    body = trial_will_end(standin, subscriber)
    assert post_event(client, body).get_json()["outcome"] == "recorded"  # the event is safe either way
    assert "the mailer failed (ConnectionRefusedError)" in caplog.text
    assert "hunter2" not in caplog.text and "/links/" not in caplog.text
    with app.app_context():
        notice = db.session.get(Notice, "evt_trial_1")
        assert notice is not None and notice.sent_at is None  # waiting for the mailer
    app.extensions[SENDER] = outbox.append
    for _ in range(2):  # the sweep (every minute) sends what waits, once
        with app.app_context():
            worker.sweep(enqueue=lambda subject: None)
    assert len(outbox) == 1
    assert post_event(client, body).get_json()["outcome"] == "duplicate"
    assert len(outbox) == 1


def test_no_email_when_its_link_could_only_be_refused(app, client, standin, trialing, outbox):
    subscriber = trialing()
    # The merchant turned card updates off in the portal: the account page has no such button either.
    with app.app_context():  # as its billing_portal.configuration.updated event leaves the mirror
        portal_facts.save(PortalSnapshot("bpc_no_cards", "its metadata", PortalFeatures(payment_method_update=False)))
        db.session.commit()
    assert post_event(client, trial_will_end(standin, subscriber)).get_json()["outcome"] == "recorded"
    assert outbox == []


def test_by_default_the_email_is_logged_without_its_link(app, client, standin, trialing, caplog):
    subscriber = trialing()
    with caplog.at_level(logging.INFO, logger="billing.email"):
        assert post_event(client, trial_will_end(standin, subscriber)).status_code == 200
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("billing"))
    assert "Email prepared for a…@example.com: 'Your Acme Cloud trial ends on" in ours
    assert "ada@example.com" not in ours  # (the SDK's own debug lines, if on, show the customer)
    assert "/links/" not in caplog.text


def test_a_notice_whose_sender_died_mid_send_is_sent_by_a_later_sweep(app, client, standin, trialing, outbox):
    from datetime import timedelta

    from billing import notices

    subscriber = trialing()
    app.extensions[SENDER] = lambda message: None  # ... as if the process died while sending
    with app.app_context():
        app.extensions["queue"]._refresh = lambda subject: None  # the job is not run yet
    post_event(client, trial_will_end(standin, subscriber))
    with app.app_context():
        worker.refresh(subscriber.user().customer)  # leased, then "sent" to nowhere...
        notice = db.session.get(Notice, "evt_trial_1")
        notice.sent_at, notice.sending_at = None, notice.sending_at - notices.LEASE - timedelta(seconds=1)
        db.session.commit()  # ... so: a lease that ran out, never marked sent
    app.extensions[SENDER] = outbox.append
    with app.app_context():
        worker.sweep(enqueue=lambda subject: None)
    assert len(outbox) == 1
