"""Fixtures for the stand-in's own tests: a fresh stand-in, an SDK client bound
to it in-process, a browser-like test client for the hosted pages, and a small
catalog with a portal configuration and a paid subscription."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import stripe
from werkzeug.test import Client

from standin import StandIn

PUBLIC_URL = "http://site.test/_standin"


@pytest.fixture
def stand_in() -> StandIn:
    return StandIn(public_url=PUBLIC_URL)


@pytest.fixture
def client(stand_in: StandIn, monkeypatch: pytest.MonkeyPatch) -> stripe.StripeClient:
    # Retries in these tests should not sleep for real.
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.001)
    monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0.001)
    return stripe.StripeClient(
        "sk_test_x",
        http_client=stand_in.http_client(),
        base_addresses={"api": "http://standin.test"},
        stripe_version="2026-10-28.endive",
        max_network_retries=2,
    )


@pytest.fixture
def web(stand_in: StandIn) -> Client:
    """Requests to the hosted pages, as a browser following `url`s would make them."""
    return Client(stand_in.wsgi_app)


def page_path(url: str) -> str:
    """The stand-in path of a hosted-page URL built from PUBLIC_URL."""
    assert url.startswith(PUBLIC_URL), url
    return urlsplit(url).path.removeprefix("/_standin")


@pytest.fixture(name="page_path")
def page_path_fixture() -> Any:
    return page_path


@dataclass
class Catalog:
    basic: Any
    pro: Any
    other: Any  # a price outside the portal configuration
    configuration: Any


def make_catalog(client: stripe.StripeClient, **features: Any) -> Catalog:
    client.v1.products.create({"id": "basic", "name": "Basic"})
    client.v1.products.create({"id": "pro", "name": "Pro"})
    client.v1.products.create({"id": "other", "name": "Other"})

    def price(product: str, amount: int, key: str) -> Any:
        return client.v1.prices.create(
            {
                "product": product,
                "unit_amount": amount,
                "currency": "usd",
                "recurring": {"interval": "month"},
                "lookup_key": key,
            }
        )

    basic, pro, other = (
        price("basic", 1000, "basic_monthly"),
        price("pro", 2500, "pro_monthly"),
        price("other", 5000, "other"),
    )
    all_features: dict[str, Any] = {
        "payment_method_update": {"enabled": True},
        "customer_update": {"enabled": True, "allowed_updates": ["email", "address", "name"]},
        "invoice_history": {"enabled": True},
        "subscription_update": {
            "enabled": True,
            "default_allowed_updates": ["price"],
            "products": [
                {"product": "basic", "prices": [basic.id]},
                {"product": "pro", "prices": [pro.id], "adjustable_quantity": {"enabled": True, "maximum": 10}},
            ],
        },
        "subscription_cancel": {"enabled": True, "mode": "at_period_end"},
        "subscription_pause": {"enabled": True},
    }
    all_features.update(features)
    configuration = client.v1.billing_portal.configurations.create({"features": all_features})
    return Catalog(basic, pro, other, configuration)


@pytest.fixture
def catalog(client: stripe.StripeClient) -> Catalog:
    return make_catalog(client)


def subscribe(
    client: stripe.StripeClient, web: Client, price_id: str, billing_mode: str = "flexible", **extra: Any
) -> tuple[Any, Any]:
    """Customer + paid subscription, made the way the app does: Checkout, then paying on its page."""
    customer = client.v1.customers.create({"email": "ada@example.com", "name": "Ada"})
    session = client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "customer": customer.id,
            "line_items": [{"price": price_id, "quantity": 1}],
            "success_url": "http://site.test/done?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": "http://site.test/pricing",
            "subscription_data": {"billing_mode": {"type": billing_mode}},
            **extra,
        }
    )
    response = web.post(page_path(session.url))
    assert response.status_code == 303
    session = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["subscription"]})
    return customer, session.subscription


@pytest.fixture(name="subscribe")
def subscribe_fixture(client: stripe.StripeClient, web: Client) -> Any:
    """subscribe(price_id, billing_mode="flexible", **checkout_params) -> (customer, subscription)."""
    return lambda price_id, billing_mode="flexible", **extra: subscribe(client, web, price_id, billing_mode, **extra)


@pytest.fixture
def subscribed(client: stripe.StripeClient, web: Client, catalog: Catalog) -> Iterator[tuple[Any, Any]]:
    yield subscribe(client, web, catalog.basic.id)
