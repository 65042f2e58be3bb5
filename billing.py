"""Every Stripe API call the site makes, and the only module that imports `stripe`.

Routes hand this module params built by `flows` and get back plain values (a
URL, an id, a `SubscriptionSnapshot`). Any Stripe failure comes out as one
exception type, `BillingError`, whose message is safe to show a customer.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Iterator

import stripe

from catalog import Catalog, Price

if TYPE_CHECKING:
    from config import Settings
    from stripe.params.billing_portal import (
        ConfigurationCreateParamsFeaturesSubscriptionUpdateProduct,
    )
    from stripe.params.billing_portal import SessionCreateParams as PortalSessionParams
    from stripe.params.checkout import SessionCreateParams as CheckoutSessionParams

log = logging.getLogger(__name__)

# The API version this code is written against. Pinning it means Stripe answers
# in the shapes this code reads, whatever the account's default version is.
STRIPE_API_VERSION = "2026-10-28.endive"
# A Stripe SDK upgrade changes the version it pins and the shape of the typed
# params: fail loudly, so the upgrade is a deliberate change, not a surprise.
if stripe.api_version != STRIPE_API_VERSION:
    raise RuntimeError(
        f"stripe SDK {stripe.VERSION} pins API version {stripe.api_version}, "
        f"but this code is written for {STRIPE_API_VERSION}."
    )

# How long a lookup key -> price id answer is reused before asking Stripe again
# (a key can move to a new price when the merchant changes an amount).
PRICE_CACHE_SECONDS = 300
# Statuses after which a subscription is over; another one may have replaced it.
FINAL_STATUSES = frozenset({"canceled", "incomplete_expired"})
# Marks the portal configuration this app manages, so a rerun finds it.
CONFIG_MARKER = "portal-deep-links-starter"


class BillingError(Exception):
    """A Stripe call failed; `str(error)` is a message a customer can act on."""


@dataclass(frozen=True)
class SubscriptionSnapshot:
    """What the local mirror keeps of a Stripe subscription (see models.Subscription)."""

    id: str
    customer: str
    status: str
    item_id: str
    item_count: int
    price_id: str
    lookup_key: str | None
    interval: str | None
    amount: int | None
    currency: str | None
    quantity: int
    current_period_end: datetime | None
    cancel_at: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    ended_at: datetime | None


def _time(ts: int | None) -> datetime | None:
    """Stripe's Unix timestamps as naive UTC datetimes, as the database stores them."""
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).replace(tzinfo=None)


def snapshot(sub: stripe.Subscription) -> SubscriptionSnapshot:
    """Read the fields the pages show. In this API version the billing period
    lives on the subscription *item*, not on the subscription."""
    item = sub.items.data[0]
    price = item.price
    customer = sub.customer if isinstance(sub.customer, str) else sub.customer.id
    return SubscriptionSnapshot(
        id=sub.id,
        customer=customer,
        status=sub.status,
        item_id=item.id,
        item_count=len(sub.items.data),
        price_id=price.id,
        lookup_key=price.lookup_key,
        interval=price.recurring.interval if price.recurring else None,
        amount=price.unit_amount,
        currency=price.currency,
        quantity=item.quantity or 1,
        current_period_end=_time(item.current_period_end),
        cancel_at=_time(sub.cancel_at),
        cancel_at_period_end=sub.cancel_at_period_end,
        canceled_at=_time(sub.canceled_at),
        ended_at=_time(sub.ended_at),
    )


def _user_message(error: stripe.StripeError) -> str:
    """Turn a Stripe exception into words for the customer; log the details."""
    log.warning(
        "Stripe call failed: %s (status=%s, code=%s, request_id=%s): %s",
        type(error).__name__,
        error.http_status,
        error.code,
        error.request_id,
        error.user_message,
    )
    if isinstance(error, stripe.CardError):
        return f"Your card was declined: {error.user_message}"
    if isinstance(error, (stripe.AuthenticationError, stripe.PermissionError)):
        log.error("Stripe refused the API key: check STRIPE_SECRET_KEY.")
        return "Billing is not available right now because of a problem on our side. Please try again later."
    if isinstance(error, stripe.RateLimitError):
        return "Stripe is busy right now. Nothing was changed; please try again in a moment."
    if isinstance(error, stripe.APIConnectionError):
        return "We could not reach Stripe. Nothing was changed; please try again in a moment."
    if isinstance(error, stripe.InvalidRequestError):
        return f"Stripe could not open this step: {error.user_message}"
    return "Stripe had a problem handling this request. Nothing was changed; please try again."


@contextmanager
def stripe_errors(doing: str) -> Iterator[None]:
    """Turn any Stripe failure inside the block into a BillingError."""
    try:
        yield
    except stripe.StripeError as e:
        log.info("Stripe failed while trying to %s", doing)
        raise BillingError(_user_message(e)) from e


class Billing:
    """One StripeClient for the whole app, and the calls the routes need."""

    def __init__(self, settings: Settings, http_client: stripe.HTTPClient | None = None) -> None:
        self.configuration = settings.stripe_portal_configuration
        self._prices: dict[str, tuple[str, float]] = {}
        self.client = stripe.StripeClient(
            settings.stripe_secret_key,
            stripe_version=STRIPE_API_VERSION,
            base_addresses={"api": settings.stripe_api_base},
            # StripeClient retries nothing by default. Retries are safe: the SDK
            # sends the same Idempotency-Key with each, so Stripe applies a POST once.
            max_network_retries=2,
            http_client=http_client,
        )

    def create_customer(self, email: str, user_id: int, idempotency_key: str) -> str:
        """Create the user's Stripe customer. The key must be unique to this user
        (not just its id, which a reset database hands out again): a double click
        then makes one customer, not two."""
        with stripe_errors("create a customer"):
            customer = self.client.v1.customers.create(
                {"email": email, "metadata": {"user_id": str(user_id)}},
                {"idempotency_key": idempotency_key},
            )
        return customer.id

    def price_id(self, lookup_key: str) -> str:
        """Stripe's id of the active price with this lookup key (cached briefly).

        Lookup keys let the catalog name prices the same way in test mode, live
        mode and offline, where Stripe's generated ids all differ.
        """
        cached = self._prices.get(lookup_key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        with stripe_errors("find a price"):
            prices = self.client.v1.prices.list({"lookup_keys": [lookup_key], "active": True, "limit": 1})
        if not prices.data:
            log.error("No active Stripe price has lookup key %r: run the Stripe setup.", lookup_key)
            raise BillingError("This plan is not available right now. Please try again later.")
        self._prices[lookup_key] = (prices.data[0].id, time.monotonic() + PRICE_CACHE_SECONDS)
        return prices.data[0].id

    def portal_session_url(self, params: PortalSessionParams) -> str:
        """Create a portal session. Sessions are short-lived: one per click, never cached."""
        with stripe_errors("open the customer portal"):
            session = self.client.v1.billing_portal.sessions.create(params)
        return session.url

    def checkout_session_url(self, params: CheckoutSessionParams) -> str:
        with stripe_errors("start Checkout"):
            session = self.client.v1.checkout.sessions.create(params)
        if session.url is None:
            raise BillingError("Stripe did not return a Checkout page. Please try again.")
        return session.url

    def checkout_subscription(self, session_id: str, customer: str) -> SubscriptionSnapshot | None:
        """The subscription a completed Checkout Session created for this customer."""
        with stripe_errors("read the Checkout result"):
            session = self.client.v1.checkout.sessions.retrieve(session_id, {"expand": ["subscription"]})
        session_customer = session.customer if isinstance(session.customer, str) else None
        # The session id comes from the URL: ignore a session of another customer.
        if session_customer != customer or not isinstance(session.subscription, stripe.Subscription):
            return None
        return snapshot(session.subscription)

    def current_subscription(self, customer: str) -> SubscriptionSnapshot | None:
        """The subscription the pages should show: the newest one that is not
        over, else the newest one (so a canceled customer sees that it ended)."""
        with stripe_errors("read your subscription"):
            subs = self.client.v1.subscriptions.list({"customer": customer, "status": "all", "limit": 10})
        ordered = sorted(subs.data, key=lambda s: s.created, reverse=True)
        live = [s for s in ordered if s.status not in FINAL_STATUSES]
        chosen = (live or ordered)[:1]
        return snapshot(chosen[0]) if chosen else None

    def ensure_catalog(self, catalog: Catalog) -> str:
        """Make sure Stripe has the catalog's products and prices and a portal
        configuration that can switch between them; return the configuration id.

        Idempotent, so it can run at every offline start: products use the
        catalog's ids, prices are found by lookup key, and the configuration is
        found by its metadata.
        """
        with stripe_errors("set up the catalog in Stripe"):
            products: list[ConfigurationCreateParamsFeaturesSubscriptionUpdateProduct] = []
            for product in catalog.products:
                try:
                    self.client.v1.products.retrieve(product.id)
                except stripe.InvalidRequestError:
                    self.client.v1.products.create(
                        {"id": product.id, "name": product.name, "description": product.tagline or product.name}
                    )
                price_ids = [self._ensure_price(price) for price in product.prices.values()]
                products.append({"product": product.id, "prices": price_ids})

            for config in self.client.v1.billing_portal.configurations.list({"active": True, "limit": 100}):
                if config.metadata and config.metadata.to_dict().get("managed_by") == CONFIG_MARKER:
                    return config.id
            return self.client.v1.billing_portal.configurations.create(
                {
                    "business_profile": {"headline": "Manage your subscription"},
                    "metadata": {"managed_by": CONFIG_MARKER},
                    "features": {
                        "invoice_history": {"enabled": True},
                        # Stripe refuses subscription updates while this is disabled.
                        "payment_method_update": {"enabled": True},
                        "customer_update": {"enabled": True, "allowed_updates": ["email", "name", "address"]},
                        "subscription_cancel": {"enabled": True, "mode": "at_period_end"},
                        # subscription_update_confirm may only move to prices listed here.
                        "subscription_update": {
                            "enabled": True,
                            "default_allowed_updates": ["price"],
                            "proration_behavior": "create_prorations",
                            "products": products,
                        },
                    },
                }
            ).id

    def _ensure_price(self, price: Price) -> str:
        found = self.client.v1.prices.list({"lookup_keys": [price.lookup_key], "limit": 1})
        if found.data:
            return found.data[0].id
        return self.client.v1.prices.create(
            {
                "product": price.product_id,
                "currency": price.currency,
                "unit_amount": price.amount,
                "recurring": {"interval": "month" if price.interval == "month" else "year"},
                "lookup_key": price.lookup_key,
            }
        ).id
