"""catalog.toml's `downgrades` policy in the Stripe account: `flask stripe setup` writes it as
the portal configuration's `schedule_at_period_end.conditions`, and `doctor` reports a
configuration that says otherwise (the account page would name the wrong date)."""

from __future__ import annotations

import dataclasses

import pytest

from standin import StandIn
from tests.ops.test_stripe_account import STALE, STANDIN_URL, configuration, make_app

BOTH = [{"type": "decreasing_item_amount"}, {"type": "shortening_interval"}]


@pytest.fixture
def standin():
    return StandIn(public_url=STANDIN_URL)


@pytest.fixture
def app(tmp_path, standin):
    return make_app(tmp_path, standin)


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def conditions(standin):
    return configuration(standin)["features"]["subscription_update"]["schedule_at_period_end"]["conditions"]


def with_downgrades(app, policy):
    catalog = app.extensions["catalog"]
    app.extensions["catalog"] = dataclasses.replace(
        catalog, portal=dataclasses.replace(catalog.portal, downgrades=policy)
    )


def doctor_problems(cli):
    output = cli("stripe", "doctor").output
    return [line.strip() for line in output.splitlines() if "PROBLEM" in line]


def test_setup_writes_at_period_end_as_both_conditions(cli, standin):
    assert cli("stripe", "setup").exit_code == 0
    assert conditions(standin) == BOTH
    assert doctor_problems(cli) == []


def test_immediately_empties_the_conditions_and_a_rerun_changes_nothing(app, cli, standin):
    cli("stripe", "setup")
    with_downgrades(app, "immediately")
    setup = cli("stripe", "setup")
    assert "Updated portal configuration" in setup.output
    # An empty list is not sent by form encoding: setup unsets the conditions with "".
    [update] = [
        r for r in standin.requests if r.method == "POST" and r.path.startswith("/v1/billing_portal/configurations/")
    ]
    assert update.params["features"]["subscription_update"]["schedule_at_period_end"] == {"conditions": ""}
    assert conditions(standin) == []
    assert doctor_problems(cli) == []
    standin.clear_requests()
    assert "nothing changed" in cli("stripe", "setup").output
    with_downgrades(app, "at_period_end")
    cli("stripe", "setup")
    assert conditions(standin) == BOTH


def test_doctor_reports_a_portal_that_downgrades_at_once(cli, standin):
    cli("stripe", "setup")
    configuration(standin)["features"]["subscription_update"]["schedule_at_period_end"]["conditions"] = []
    problem, stale = doctor_problems(cli)
    assert STALE in stale  # changed behind the site's back
    assert "The portal makes downgrades immediately, but catalog.toml says downgrades = 'at_period_end'" in problem


def test_doctor_reports_a_portal_that_waits_when_the_catalog_says_immediately(app, cli, standin):
    cli("stripe", "setup")
    with_downgrades(app, "immediately")
    (problem,) = doctor_problems(cli)
    assert "downgrades at the end of the period, but catalog.toml says downgrades = 'immediately'" in problem


def test_doctor_names_a_partial_policy(cli, standin):
    cli("stripe", "setup")
    configuration(standin)["features"]["subscription_update"]["schedule_at_period_end"]["conditions"] = BOTH[:1]
    problem, stale = doctor_problems(cli)
    assert STALE in stale
    assert "at the end of the period only for decreasing_item_amount" in problem
