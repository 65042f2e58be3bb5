"""`flask stripe setup` and `flask stripe doctor` against the stand-in, with the
app in test mode (a test key, the stand-in as Stripe) rather than offline, so
nothing is prepared for them at start."""

from __future__ import annotations

import dataclasses

import pytest

from app import create_app
from billing.catalog import Catalog
from billing.schema import upgrade_schema
from ops.commands import update_env_file
from standin import StandIn
from tests.helpers import TEST_CATALOG, database_url

STANDIN_URL = "http://standin.test"


def make_app(tmp_path, standin, **settings):
    app = create_app(
        {
            "TESTING": True,
            "STRIPE_SECRET_KEY": "sk_test_account",
            "STRIPE_API_BASE": STANDIN_URL,
            "STRIPE_WEBHOOK_SECRET": "whsec_test_account",
            "QUEUE_URL": "immediate",
            "STRIPE_HTTP_CLIENT": standin.http_client(),
            "APP_BASE_URL": "http://localhost",
            "SECRET_KEY": "test-secret-key-not-for-production",
            "DATABASE_URL": database_url(tmp_path, "app"),
            "CATALOG_PATH": TEST_CATALOG,
            **settings,
        }
    )
    with app.app_context():
        upgrade_schema()  # as `make run` does first: setup stores the portal's features there
    return app


@pytest.fixture
def standin():
    return StandIn(public_url=f"{STANDIN_URL}")


@pytest.fixture
def app(tmp_path, standin):
    return make_app(tmp_path, standin)


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args):
        return runner.invoke(args=list(args))

    return run


def configuration(standin):
    (config,) = standin.state.all("billing_portal.configuration")
    return config


def test_setup_creates_the_catalog_then_doctor_is_clean(cli, standin):
    setup = cli("stripe", "setup")
    assert setup.exit_code == 0, setup.output
    for change in [
        "Created product pro (Pro).",
        "Created price pro_monthly ($29/month).",
        "Created coupon welcome-20 (20% off for 3 months).",
        "Created promotion code WELCOME20 for coupon welcome-20.",
        "Created portal configuration bpc_",
    ]:
        assert change in setup.output
    config = configuration(standin)
    assert setup.output.strip().splitlines()[-1] == f"STRIPE_PORTAL_CONFIGURATION={config['id']}"
    assert config["metadata"] == {"managed_by": "portal-deep-links-starter"}
    assert config["default_return_url"] == "http://localhost/account"
    features = config["features"]
    assert all(features[name]["enabled"] for name in features), features
    business = next(p for p in features["subscription_update"]["products"] if p["product"] == "business")
    assert business["adjustable_quantity"] == {"enabled": True, "minimum": 1, "maximum": 50}

    doctor = cli("stripe", "doctor")
    assert doctor.exit_code == 0, doctor.output
    assert "PROBLEM" not in doctor.output
    assert "Everything the site needs is in place." in doctor.output
    assert f"Portal configuration {config['id']}, found by its metadata" in doctor.output


def test_a_second_setup_changes_nothing_and_says_so(cli, standin):
    first = cli("stripe", "setup")
    standin.clear_requests()
    second = cli("stripe", "setup")
    assert second.exit_code == 0
    assert "Everything already matches catalog.toml: nothing changed." in second.output
    assert "changed:" not in second.output
    assert [r for r in standin.requests if r.method != "GET"] == []
    assert second.output.splitlines()[-1] == first.output.splitlines()[-1]


def test_a_changed_amount_moves_the_lookup_key_to_a_new_price(app, cli, standin):
    cli("stripe", "setup")
    (old,) = [p for p in standin.state.all("price") if p["lookup_key"] == "pro_monthly"]
    app.extensions["catalog"] = with_amount(app.extensions["catalog"], "pro_monthly", 3500)

    setup = cli("stripe", "setup")
    assert setup.exit_code == 0, setup.output
    (new,) = [p for p in standin.state.all("price") if p["lookup_key"] == "pro_monthly"]
    assert new["id"] != old["id"] and new["unit_amount"] == 3500
    assert old["active"] is False and old["lookup_key"] is None
    assert (
        f"Replaced price pro_monthly ($35/month): the lookup key moved from {old['id']} "
        f"($29/month, now archived) to {new['id']}." in setup.output
    )
    assert "Updated portal configuration" in setup.output
    pro = next(
        p for p in configuration(standin)["features"]["subscription_update"]["products"] if p["product"] == "pro"
    )
    assert new["id"] in pro["prices"] and old["id"] not in pro["prices"]
    assert cli("stripe", "doctor").exit_code == 0


def with_amount(catalog: Catalog, lookup_key: str, amount: int) -> Catalog:
    def product(p):
        prices = {
            i: dataclasses.replace(pr, amount=amount) if pr.lookup_key == lookup_key else pr
            for i, pr in p.prices.items()
        }
        return dataclasses.replace(p, prices=prices)

    return dataclasses.replace(catalog, products=tuple(product(p) for p in catalog.products))


def test_setup_reactivates_what_was_archived_and_warns_about_changed_coupons(cli, standin):
    cli("stripe", "setup")
    product = standin.state.get("pro", "product")
    product["active"] = False
    promo = next(p for p in standin.state.all("promotion_code") if p["code"] == "WELCOME20")
    promo["active"] = False
    standin.state.get("welcome-20", "coupon")["percent_off"] = 25.0

    setup = cli("stripe", "setup")
    assert "changed: Updated product pro: active." in setup.output
    assert "changed: Reactivated promotion code WELCOME20." in setup.output
    assert "attention: Coupon welcome-20: percent_off is 25.0 in Stripe, 20 in the catalog." in setup.output
    assert product["active"] is True and promo["active"] is True


def test_setup_can_write_the_settings_to_env(tmp_path, monkeypatch, cli, standin):
    env = tmp_path / ".env"
    env.write_text("# mine\nSTRIPE_SECRET_KEY=sk_test_keep\nSTRIPE_PORTAL_CONFIGURATION=bpc_old\n")
    monkeypatch.setattr("ops.commands.ENV_FILE", env)
    result = cli("stripe", "setup", "--write-env")
    assert result.exit_code == 0, result.output
    assert env.read_text() == (
        f"# mine\nSTRIPE_SECRET_KEY=sk_test_keep\nSTRIPE_PORTAL_CONFIGURATION={configuration(standin)['id']}\n"
    )


def test_update_env_file_appends_a_missing_setting(tmp_path):
    env = tmp_path / ".env"
    update_env_file(env, {"A": "1"})
    update_env_file(env, {"B": "2", "A": "3"})
    assert env.read_text() == "A=3\nB=2\n"


# --- doctor's findings, each with its fix -------------------------------------------------


# What doctor adds when the configuration changed with no webhook to tell the site (as these
# tests change the stand-in's state directly).
STALE = "differs from Stripe's"


def problems(output):
    """The PROBLEM lines of doctor's output, each with the fix line under it."""
    lines = output.splitlines()
    return [(line.strip(), lines[i + 1].strip()) for i, line in enumerate(lines) if "PROBLEM" in line]


def test_doctor_before_setup_names_each_missing_piece(cli):
    doctor = cli("stripe", "doctor")
    assert doctor.exit_code == 1
    found = problems(doctor.output)
    assert (
        "PROBLEM  Price pro_monthly: no active Stripe price has this lookup key.",
        "fix: Run `flask --app app stripe setup`.",
    ) in found
    assert any("No customer-portal configuration" in p and "setup" in fix for p, fix in found)
    assert f"{len(found)} problems found." in doctor.output


def test_doctor_catches_a_configuration_without_subscription_update(cli, standin):
    cli("stripe", "setup")
    configuration(standin)["features"]["subscription_update"]["enabled"] = False
    doctor = cli("stripe", "doctor")
    assert doctor.exit_code == 1
    problem, stale = problems(doctor.output)
    assert STALE in stale[0]  # changed behind the site's back: no webhook told it
    assert "does not enable subscription update (switch plan, change interval or seats, plan picker)" in problem[0]
    assert problem[1].startswith("fix: Run `flask --app app stripe setup`.")


def test_doctor_catches_a_catalog_price_missing_from_the_configuration(cli, standin):
    cli("stripe", "setup")
    (yearly,) = [p for p in standin.state.all("price") if p["lookup_key"] == "business_yearly"]
    business = next(
        p for p in configuration(standin)["features"]["subscription_update"]["products"] if p["product"] == "business"
    )
    business["prices"].remove(yearly["id"])
    doctor = cli("stripe", "doctor")
    assert doctor.exit_code == 1
    assert problems(doctor.output) == [
        (
            f"PROBLEM  Price business_yearly ({yearly['id']}) is missing from the portal configuration's "
            "subscription-update products: switching to it would fail.",
            "fix: Run `flask --app app stripe setup`.",
        ),
        (
            f"PROBLEM  The stored copy of the portal configuration ({configuration(standin)['id']}) differs from "
            f"Stripe's ({configuration(standin)['id']}): the pages would say what the portal no longer does.",
            "fix: Run `flask --app app stripe setup`. It stores the current one; webhooks keep it current when "
            "the endpoint sends billing_portal.configuration.created and billing_portal.configuration.updated.",
        ),
    ]
    # ... which setup repairs.
    assert "Updated portal configuration" in cli("stripe", "setup").output
    assert cli("stripe", "doctor").exit_code == 0


def test_doctor_catches_a_missing_webhook_secret(tmp_path, standin):
    # Against Stripe itself (the default API base; the stand-in answers in-process all the same).
    app = make_app(tmp_path, standin, STRIPE_WEBHOOK_SECRET="", STRIPE_API_BASE="")
    runner = app.test_cli_runner()
    runner.invoke(args=["stripe", "setup"])
    doctor = runner.invoke(args=["stripe", "doctor"])
    assert doctor.exit_code == 1
    assert problems(doctor.output) == [
        (
            "PROBLEM  STRIPE_WEBHOOK_SECRET is not set: the site cannot check that events come from Stripe.",
            "fix: Locally: `stripe listen --forward-to http://localhost/stripe/webhook` prints a whsec_... secret. "
            "Deployed: add an endpoint in Dashboard > Developers > Webhooks and copy its signing secret.",
        )
    ]


def test_doctor_catches_a_refused_key(tmp_path, standin):
    app = make_app(tmp_path, standin, STRIPE_SECRET_KEY="rk_live_refused_by_the_standin", STRIPE_ALLOW_LIVE_MODE="true")
    doctor = app.test_cli_runner().invoke(args=["stripe", "doctor"])
    assert doctor.exit_code == 1
    problem, fix = problems(doctor.output)[0]
    assert problem.startswith("PROBLEM  Stripe refused the key: Invalid API Key provided: rk_live_")
    assert "refused_by_the_standin" not in doctor.output  # the key itself is never printed whole
    assert "Developers > API keys" in fix


def test_doctor_catches_a_cancel_mode_other_than_the_catalogs(cli, standin):
    cli("stripe", "setup")
    configuration(standin)["features"]["subscription_cancel"]["mode"] = "immediately"
    problem, stale = problems(cli("stripe", "doctor").output)
    assert STALE in stale[0]
    assert "The portal cancels immediately, but catalog.toml says at period end" in problem[0]


def test_the_app_uses_the_configuration_setup_made(tmp_path, standin):
    first = make_app(tmp_path, standin)
    first.test_cli_runner().invoke(args=["stripe", "setup"])
    # A later start, with no STRIPE_PORTAL_CONFIGURATION, finds it by its metadata.
    later = make_app(tmp_path, standin)
    assert later.extensions["stripe"].configuration == configuration(standin)["id"]
