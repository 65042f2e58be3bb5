"""The plan catalog: the shipped file loads, and mistakes in it are explained."""

import pytest

from billing.buttons import PORTAL_BUTTONS
from billing.catalog import CatalogError, format_amount, load_catalog, parse_catalog


def test_the_shipped_catalog_loads():
    catalog = load_catalog(PORTAL_BUTTONS)
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
    assert load_catalog(PORTAL_BUTTONS).portal.downgrades == "at_period_end"  # the demo shows it
    assert parse_catalog({**_catalog(), "portal": {"downgrades": "immediately"}}, PORTAL_BUTTONS).portal.downgrades == (
        "immediately"
    )
    with pytest.raises(CatalogError, match="downgrades must be one of"):
        parse_catalog({**_catalog(), "portal": {"downgrades": "later"}}, PORTAL_BUTTONS)
