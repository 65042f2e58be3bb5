"""The plan catalog: a file loads, the demo's sets up a Stripe account, and mistakes
in one are explained."""

import pytest

from billing.buttons import PORTAL_BUTTONS
from billing.catalog import CatalogError, format_amount, load_catalog, parse_catalog
from billing.settings import load_settings
from billing.stripe_api import StripeAPI
from ops.setup import ensure_catalog
from tests.helpers import DEMO_CATALOG, SECRET_KEY, TEST_KEY, fixture_catalog, prepared_standin


def test_the_demo_catalog_parses_and_sets_up_an_account():
    """The one test that reads billing/catalog.toml (the others run on tests/catalog.toml).
    It names none of its plans: whatever the file holds (a fork's own plans too),
    `flask stripe setup` makes it, so each lookup key finds its price, the portal lists
    every product, and a rerun changes nothing."""
    settings = load_settings({"STRIPE_SECRET_KEY": TEST_KEY, "SECRET_KEY": SECRET_KEY, "CATALOG_PATH": DEMO_CATALOG})
    catalog = load_catalog(PORTAL_BUTTONS, settings.catalog_path)
    assert settings.catalog_path == load_settings({"SECRET_KEY": SECRET_KEY}).catalog_path  # the default
    standin = prepared_standin(catalog=DEMO_CATALOG)  # runs ensure_catalog, as `flask stripe setup` does
    prices = {p["lookup_key"]: p for p in standin.state.all("price") if p["active"]}
    for price in catalog.prices:
        found = prices[price.lookup_key]
        assert (found["product"], found["unit_amount"], found["recurring"]["interval"]) == (
            price.product_id,
            price.amount,
            price.interval,
        )
    (configuration,) = standin.state.all("billing_portal.configuration")
    listed = configuration["features"]["subscription_update"]["products"]
    assert {p["product"] for p in listed} == {p.id for p in catalog.products}
    rerun = ensure_catalog(StripeAPI(settings, http_client=standin.http_client()), catalog, "http://localhost/account")
    assert rerun.changes == [] and rerun.warnings == []


def test_the_fixture_catalog_loads():
    catalog = fixture_catalog()
    assert [p.id for p in catalog.products] == ["starter", "pro", "business"]
    pro = catalog.price("pro_yearly")
    assert pro is not None and pro.interval == "year" and pro.amount == 29000
    assert catalog.price("not_a_key") is None
    assert sum(p.highlighted for p in catalog.products) == 1


def _catalog(**product):
    base = {"id": "a", "name": "A", "prices": {"month": {"lookup_key": "a_m", "amount": 100}}}
    return {"currency": "usd", "products": [{**base, **product}]}


@pytest.mark.parametrize(
    "data, message",
    [
        ({"currency": "usd", "products": []}, "at least one"),
        (_catalog(prices={"week": {"lookup_key": "a_w", "amount": 1}}), "interval"),
        (_catalog(prices={"month": {"lookup_key": "a_m", "amount": 0}}), "positive"),
        (_catalog(prices={"month": {"lookup_key": "a_m", "amount": "9"}}), "amount"),
        (
            _catalog(prices={"month": {"lookup_key": "k", "amount": 1}, "year": {"lookup_key": "k", "amount": 9}}),
            "twice",
        ),
        ({"currency": "usd", "products": [_catalog()["products"][0]] * 11}, "at most 10"),
    ],
)
def test_mistakes_are_explained(data, message):
    with pytest.raises(CatalogError, match=message):
        parse_catalog(data, PORTAL_BUTTONS)


def test_format_amount():
    assert format_amount(900, "usd") == "$9"
    assert format_amount(1250, "eur") == "€12.50"
    assert format_amount(123456, "usd") == "$1,234.56"


def test_after_completion_names_only_buttons_that_open_a_portal_step():
    data = {**_catalog(), "portal": {"after_completion": {"cancel": "portal_homepage"}}}
    assert parse_catalog(data, PORTAL_BUTTONS).portal.ending("cancel").type == "portal_homepage"
    for key in ("cancle", "subscribe", "resume", "manage_billing"):  # a typo, and buttons with no portal step
        data = {**_catalog(), "portal": {"after_completion": {key: "redirect"}}}
        with pytest.raises(CatalogError, match="unknown button"):
            parse_catalog(data, PORTAL_BUTTONS)


def test_the_downgrade_policy():
    assert fixture_catalog().portal.downgrades == "at_period_end"
    assert parse_catalog({**_catalog(), "portal": {"downgrades": "immediately"}}, PORTAL_BUTTONS).portal.downgrades == (
        "immediately"
    )
    with pytest.raises(CatalogError, match="downgrades must be one of"):
        parse_catalog({**_catalog(), "portal": {"downgrades": "later"}}, PORTAL_BUTTONS)
