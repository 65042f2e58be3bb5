"""The portal configuration's features the pages word their buttons by: stored in the
database (by setup, at start, by webhooks) and read from there by every instance; when
they are unknown, the log and `doctor` say so and the pages promise nothing either way."""

from __future__ import annotations

import logging
import sys
import typing

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from stripe.params.billing_portal import SessionCreateParams

from app import create_app
from billing import buttons, portal_facts
from billing.accounts import User
from billing.eligibility import CANCEL_NOTE_UNKNOWN, Facts, PortalFeatures, SubscriptionFacts
from billing.flows import PORTAL_LOCALES
from billing.models import PortalConfiguration, db
from billing.schema import upgrade_schema
from billing.settings import load_settings
from billing.stripe_api import StripeAPI
from tests.helpers import (
    BASE_URL,
    SECRET_KEY,
    TEST_CATALOG,
    TEST_KEY,
    WEBHOOK_SECRET,
    Auth,
    core_app,
    database_url,
    fixture_catalog,
    prepared_standin,
)

WRONG_ONE_WAY = ("Cancel at period end", "You keep access until the end of the paid period.")
WRONG_THE_OTHER = ("Cancel now", "Access ends immediately.")


def account_page(client):
    return client.get("/account").get_data(as_text=True)


def subscribed(app, email="ada@example.com"):
    auth = Auth(app.test_client(), app)
    auth.signup(email)
    auth.subscribe("starter_monthly")
    return auth


def stripe_client(standin):
    """An SDK client on the stand-in, as the merchant's Dashboard acts on the account."""
    settings = load_settings({"STRIPE_SECRET_KEY": TEST_KEY, "SECRET_KEY": SECRET_KEY})
    return StripeAPI(settings, http_client=standin.http_client()).client


def the_configuration(standin):
    (config,) = standin.state.all("billing_portal.configuration")
    return config["id"]


def cancel_immediately(client, configuration):
    client.v1.billing_portal.configurations.update(
        configuration, {"features": {"subscription_cancel": {"mode": "immediately"}}}
    )


def forget_stored(app):
    with app.app_context():
        db.session.execute(sa.delete(PortalConfiguration))
        db.session.commit()


def stripe_down(standin):
    standin.fail_next("GET", "/v1/", status=503, count=1000)
    standin.fail_next("POST", "/v1/", status=503, count=1000)


def test_a_start_with_stripe_down_and_nothing_stored_says_so_and_promises_neither_ending(tmp_path, caplog):
    standin = prepared_standin()
    forget_stored(core_app(tmp_path, standin))  # a site that ran before, its tables made
    stripe_down(standin)
    with caplog.at_level(logging.WARNING, logger="billing.portal_facts"):
        app = core_app(tmp_path, standin)
    assert portal_facts.UNKNOWN in caplog.text
    standin.recover()
    page = account_page(subscribed(app).client)
    assert "Cancel subscription" in page and CANCEL_NOTE_UNKNOWN in page
    for wrong in WRONG_ONE_WAY + WRONG_THE_OTHER:
        assert wrong not in page


def test_a_start_with_stripe_down_uses_what_is_stored(tmp_path, caplog):
    standin = prepared_standin()
    configuration = the_configuration(standin)
    cancel_immediately(stripe_client(standin), configuration)
    core_app(tmp_path, standin)  # Stripe answered: the site stored "immediately"
    stripe_down(standin)
    with caplog.at_level(logging.WARNING, logger="billing.portal_facts"):
        app = core_app(tmp_path, standin)
    assert portal_facts.UNKNOWN not in caplog.text
    assert app.extensions["stripe"].configuration == configuration  # sessions name it too
    standin.recover()
    page = account_page(subscribed(app).client)
    assert all(right in page for right in WRONG_THE_OTHER)
    assert not any(wrong in page for wrong in WRONG_ONE_WAY)


def test_a_configuration_webhook_changes_every_instances_next_page(tmp_path):
    standin = prepared_standin()
    one = core_app(tmp_path, standin)
    other = core_app(tmp_path, standin)  # another server on the same database
    standin.configure_webhooks(  # Stripe's events reach the first one only
        WEBHOOK_SECRET,
        deliver=lambda body, headers: one.test_client().post("/stripe/webhook", data=body, headers=headers).status_code,
        mode="queued",
    )
    ada = subscribed(one)
    assert "Cancel at period end" in account_page(ada.client)
    standin.deliver_webhooks()
    cancel_immediately(stripe_client(standin), the_configuration(standin))  # in the Dashboard
    delivered = standin.deliver_webhooks()
    assert [status for _, status in delivered] == [200]
    assert standin.webhooks.attempts[-1][1] == "billing_portal.configuration.updated"
    elsewhere = Auth(other.test_client(), other)
    elsewhere.signin()
    for client in (ada.client, elsewhere.client):
        page = account_page(client)
        assert "Cancel now" in page and "Access ends immediately." in page and "Cancel at period end" not in page


def test_setup_stores_the_configuration_it_leaves_in_use(app, standin):
    forget_stored(app)
    result = app.test_cli_runner().invoke(args=["stripe", "setup"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        stored = portal_facts.stored()
    catalog = app.extensions["catalog"]
    assert stored is not None and stored.id == the_configuration(standin)
    assert stored.features.cancel_mode == catalog.portal.cancel_mode
    assert set(stored.features.update_products) == {product.id for product in catalog.products}
    assert stored.features.adjustable_quantity == {p.id for p in catalog.products if p.seats}


def test_doctor_says_when_the_pages_do_not_know_the_features_and_how_to_fix_it(app):
    runner = app.test_cli_runner()
    assert "The pages read a current copy of portal configuration" in runner.invoke(args=["stripe", "doctor"]).output
    forget_stored(app)
    result = runner.invoke(args=["stripe", "doctor"])
    assert result.exit_code == 1
    assert "PROBLEM  The site has no stored copy of the portal configuration's features (none is stored)" in (
        result.output
    )
    assert "fix: Run `flask --app app stripe setup`. It stores them" in result.output


def test_doctor_says_when_the_stored_copy_is_out_of_date(app, standin):
    cancel_immediately(stripe_client(standin), the_configuration(standin))  # its webhook never came
    result = app.test_cli_runner().invoke(args=["stripe", "doctor"])
    assert "differs from Stripe's" in result.output and result.exit_code == 1


def test_the_migration_adds_the_table_to_a_database_in_use(tmp_path):
    settings = {
        "TESTING": True,
        "APP_BASE_URL": BASE_URL,
        "SECRET_KEY": SECRET_KEY,
        "CATALOG_PATH": TEST_CATALOG,
        "QUEUE_URL": "immediate",
    }
    settings["STRIPE_SECRET_KEY"] = TEST_KEY
    stripe = prepared_standin().http_client()
    app = create_app({**settings, "STRIPE_HTTP_CLIENT": stripe, "DATABASE_URL": database_url(tmp_path, "old")})
    with app.app_context():
        upgrade(revision="0008")
        old = "INSERT INTO users (email, password_hash, created_at) VALUES ('old@example.com', 'x', '2026-11-01')"
        db.session.execute(sa.text(old))
        db.session.commit()
        upgrade_schema()
        assert sa.inspect(db.engine).has_table("portal_configurations")
        assert "old@example.com" in db.session.scalars(sa.select(User.email)).all()
        assert portal_facts.features() is None  # unknown until stored: no row, no guess
        db.session.rollback()  # on PostgreSQL, the reads above hold locks DROP TABLE would wait for
        downgrade(revision="0008")
        assert not sa.inspect(db.engine).has_table("portal_configurations")


# --- the rules, with the features unknown ------------------------------------------------

CATALOG = fixture_catalog()
SEATS = next(product for product in CATALOG.products if product.seats)


def decide(features, product=SEATS):
    price = next(iter(product.prices.values()))
    sub = SubscriptionFacts(id="sub_1", item_id="si_1", lookup_key=price.lookup_key, status="active")
    return buttons.decide(Facts(sub, features, product, True))


def test_unknown_features_word_cancel_for_either_mode_and_offer_what_the_catalog_sells():
    unknown = decide(None)
    assert (unknown["cancel"].label, unknown["cancel"].note) == ("Cancel subscription", CANCEL_NOTE_UNKNOWN)
    assert unknown["change_quantity"].allowed  # the catalog prices it per seat; the portal may refuse it
    assert unknown["update_payment_method"].allowed and unknown["switch_plan"].allowed


def test_known_features_decide():
    known = decide(PortalFeatures(cancel_mode="immediately"))
    assert (known["cancel"].label, known["cancel"].note) == ("Cancel now", "Access ends immediately.")
    assert not known["change_quantity"].allowed  # the portal lets no one change seats


def test_portal_locales_are_the_sdks():
    annotation = SessionCreateParams.__annotations__["locale"]
    (inner,) = typing.get_args(annotation)  # NotRequired["Literal[...] | str"]
    namespace = vars(sys.modules[SessionCreateParams.__module__])
    resolved = eval(inner.__forward_arg__, namespace) if isinstance(inner, typing.ForwardRef) else inner
    literals = [arg for arg in typing.get_args(resolved) if typing.get_origin(arg) is typing.Literal]
    sdk = [locale for literal in literals for locale in typing.get_args(literal)]
    assert sdk[0] == "auto" and list(PORTAL_LOCALES) == sdk[1:]
