"""A Stripe customer id is only good where it was made: a customer made in test
mode (or by a stand-in) does not exist under another key. Each user records where
its customer was made, and one made elsewhere is forgotten instead of answering
"No such customer"."""

from __future__ import annotations

from billing.models import BillingAccount, db
from billing.settings import key_origin
from tests.core.test_webhooks import post_event, subscription_event
from tests.helpers import Auth, core_app, prepared_standin


def origin_of(app, email):
    with app.app_context():
        return db.session.scalar(db.select(BillingAccount.stripe_origin).where(BillingAccount.email == email))


def mark_made(app, email, origin):
    with app.app_context():
        db.session.execute(db.update(BillingAccount).where(BillingAccount.email == email).values(stripe_origin=origin))
        db.session.commit()


def test_the_key_says_the_origin():
    live = "sk_" + "live_" + "x" * 8  # built here: no secret scanner takes it for a key
    assert key_origin(live) == key_origin("rk_" + "live_x") == "live"
    assert key_origin("sk_test_x") == key_origin("rk_test_x") == key_origin("") == "test"


def test_a_new_customer_records_where_it_was_made(auth):
    auth.signup()
    auth.subscribe()
    assert origin_of(auth.app, "ada@example.com") == "test"


def test_a_customer_made_elsewhere_is_forgotten_and_a_new_one_made(tmp_path):
    # The database was used with another Stripe (the offline demo's stand-in); now a test key.
    before = core_app(tmp_path)
    old = Auth(before.test_client(), before)
    old.signup()
    old_customer = old.subscribe().customer
    mark_made(before, "ada@example.com", "offline")

    app = core_app(tmp_path, standin=prepared_standin())
    auth = Auth(app.test_client(), app)
    auth.signin()
    page = auth.client.get("/account").get_data(as_text=True)
    assert "You have no subscription yet" in page
    assert auth.user().customer is None and auth.user().subscription is None
    # Every button works: Subscribe makes a customer here, and Checkout completes.
    assert auth.subscribe().subscription.status == "active"
    assert auth.user().customer not in (None, old_customer)
    assert origin_of(app, "ada@example.com") == "test"


def test_a_customer_of_unknown_origin_is_kept(auth):
    auth.signup()
    customer = auth.subscribe().customer
    mark_made(auth.app, "ada@example.com", None)  # a row from before origins were recorded
    assert "Starter" in auth.client.get("/account").get_data(as_text=True)
    assert auth.user().customer == customer and auth.user().subscription is not None


def test_a_webhook_for_a_customer_made_elsewhere_leaves_its_user_alone(tmp_path):
    # The same customer id, made by another Stripe than the one signing this event.
    app = core_app(tmp_path)
    auth = Auth(app.test_client(), app)
    auth.signup()
    auth.subscribe()
    mark_made(app, "ada@example.com", "offline")
    standin = app.extensions["test_standin"]
    body = subscription_event(standin, auth, event_id="evt_origin_1")
    assert post_event(auth.client, body).get_json()["outcome"] == "recorded"
    # Not refreshed from this Stripe: its customer is forgotten, as on its next request.
    assert auth.user().customer is None and auth.user().subscription is None


def test_a_live_customer_is_never_forgotten_under_a_test_key(tmp_path):
    # A staging site pointed at the production database, say: the data stays as it is.
    app = core_app(tmp_path)
    auth = Auth(app.test_client(), app)
    auth.signup()
    customer = auth.subscribe().customer
    mark_made(app, "ada@example.com", "live")
    assert "Starter" in auth.client.get("/account").get_data(as_text=True)
    standin = app.extensions["test_standin"]
    assert post_event(auth.client, subscription_event(standin, auth, event_id="evt_origin_2")).status_code == 200
    assert auth.user().customer == customer and auth.user().subscription is not None
    assert origin_of(app, "ada@example.com") == "live"
