"""Every Stripe API call the site makes, and the only module that imports `stripe`.

Routes hand this module params built by `flows` and get back plain values (a
URL, an id, a `SubscriptionSnapshot`). Any Stripe failure comes out as one
exception type, `BillingError`, whose message is safe to show a customer.
"""

from __future__ import annotations

import logging
import sys
import time
import typing
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Iterator, cast

import stripe

from catalog import Catalog, Coupon, Price
from eligibility import PortalFeatures

if TYPE_CHECKING:
    from config import Settings
    from stripe.params import CouponCreateParams
    from stripe.params.billing_portal import (
        ConfigurationCreateParamsFeatures,
        ConfigurationCreateParamsFeaturesSubscriptionUpdateProduct,
        ConfigurationUpdateParamsFeatures,
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


def _portal_locales() -> tuple[str, ...]:
    """The portal locales this SDK version lists (its `locale` Literal), without "auto"."""
    annotation = stripe.params.billing_portal.SessionCreateParams.__annotations__["locale"]
    (inner,) = typing.get_args(annotation)  # NotRequired[ForwardRef("Literal[...]|str")]
    namespace = vars(sys.modules[stripe.params.billing_portal.SessionCreateParams.__module__])
    resolved = eval(inner.__forward_arg__, namespace) if isinstance(inner, typing.ForwardRef) else inner
    literals = [arg for arg in typing.get_args(resolved) if typing.get_origin(arg) is typing.Literal]
    return tuple(locale for lit in literals for locale in typing.get_args(lit) if locale != "auto")


# The locales a portal session may be opened in (e.g. "de", "pt-BR").
PORTAL_LOCALES = _portal_locales()


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
    billing_mode: str
    # The coupon of the discount in force, if any (the catalog names it).
    discount_coupon: str | None


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
        billing_mode=sub.billing_mode.type if sub.billing_mode else "classic",
        discount_coupon=_discount_coupon(sub),
    )


def _discount_coupon(sub: stripe.Subscription) -> str | None:
    """The coupon of the first discount in force (needs `discounts` expanded)."""
    for discount in sub.discounts or []:
        if isinstance(discount, stripe.Discount) and discount.source and discount.source.coupon:
            coupon = discount.source.coupon
            return coupon if isinstance(coupon, str) else coupon.id
    return None


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
        self._features = PortalFeatures()
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

    def known_price_id(self, lookup_key: str) -> str | None:
        """The cached price id, without asking Stripe (for pages, which make no calls)."""
        cached = self._prices.get(lookup_key)
        return cached[0] if cached else None

    def load_prices(self, lookup_keys: list[str]) -> None:
        """Resolve many lookup keys at once (at start), so pages can show price ids."""
        with stripe_errors("find the catalog's prices"):
            for start in range(0, len(lookup_keys), 10):  # Stripe takes 10 lookup keys a call
                found = self.client.v1.prices.list(
                    {"lookup_keys": lookup_keys[start : start + 10], "active": True, "limit": 100}
                )
                for price in found.data:
                    if price.lookup_key:
                        self._prices[price.lookup_key] = (price.id, time.monotonic() + PRICE_CACHE_SECONDS)

    def portal_features(self) -> PortalFeatures:
        """What the portal configuration allows, as read at start (or defaults)."""
        return self._features

    def load_portal_features(self) -> PortalFeatures:
        """Read the portal configuration in use from Stripe, for the eligibility rules."""
        with stripe_errors("read the portal configuration"):
            if self.configuration:
                config = self.client.v1.billing_portal.configurations.retrieve(self.configuration)
            else:
                defaults = self.client.v1.billing_portal.configurations.list({"is_default": True, "limit": 1})
                if not defaults.data:
                    return self._features
                config = defaults.data[0]
        f = config.features
        self._features = PortalFeatures(
            subscription_update=f.subscription_update.enabled,
            subscription_cancel=f.subscription_cancel.enabled,
            cancel_mode=f.subscription_cancel.mode,
            subscription_pause=bool(f.subscription_pause and f.subscription_pause.enabled),
            payment_method_update=f.payment_method_update.enabled,
            customer_update=f.customer_update.enabled,
            adjustable_quantity=frozenset(
                p.product
                for p in (f.subscription_update.products or [])
                if p.adjustable_quantity and p.adjustable_quantity.enabled
            ),
        )
        return self._features

    def promotion_code_id(self, code: str, product_id: str) -> str:
        """The id (promo_...) of an active promotion code that applies to this product.

        Checked before use, so a customer with a stale or mistyped code gets a
        clear message here instead of an error on Stripe's page.
        """
        with stripe_errors("check the promotion code"):
            found = self.client.v1.promotion_codes.list(
                {"code": code, "active": True, "limit": 1, "expand": ["data.promotion.coupon"]}
            )
        promo = found.data[0] if found.data else None
        coupon = promo.promotion.coupon if promo else None
        if promo is None or not isinstance(coupon, stripe.Coupon) or not coupon.valid:
            raise BillingError(f"The code {code} is not valid or has expired.")
        if promo.expires_at is not None and promo.expires_at <= time.time():
            raise BillingError(f"The code {code} has expired.")
        with stripe_errors("check the promotion code"):
            # A coupon's `applies_to` is only returned when asked for, and only if it is set.
            full = self.client.v1.coupons.retrieve(coupon.id, {"expand": ["applies_to"]})
        applies_to = getattr(full, "applies_to", None)
        if applies_to is not None and product_id not in (applies_to.products or []):
            raise BillingError(f"The code {code} does not apply to this plan.")
        return promo.id

    def resume_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        """Resume a paused subscription where its billing period left off."""
        with stripe_errors("resume your subscription"):
            sub = self.client.v1.subscriptions.resume(
                subscription_id, {"billing_cycle_anchor": {"type": "unchanged"}, "expand": ["discounts"]}
            )
        return snapshot(sub)

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
            session = self.client.v1.checkout.sessions.retrieve(
                session_id, {"expand": ["subscription", "subscription.discounts"]}
            )
        session_customer = session.customer if isinstance(session.customer, str) else None
        # The session id comes from the URL: ignore a session of another customer.
        if session_customer != customer or not isinstance(session.subscription, stripe.Subscription):
            return None
        return snapshot(session.subscription)

    def current_subscription(self, customer: str) -> SubscriptionSnapshot | None:
        """The subscription the pages should show: the newest one that is not
        over, else the newest one (so a canceled customer sees that it ended)."""
        with stripe_errors("read your subscription"):
            subs = self.client.v1.subscriptions.list(
                {"customer": customer, "status": "all", "limit": 10, "expand": ["data.discounts"]}
            )
        ordered = sorted(subs.data, key=lambda s: s.created, reverse=True)
        live = [s for s in ordered if s.status not in FINAL_STATUSES]
        chosen = (live or ordered)[:1]
        return snapshot(chosen[0]) if chosen else None

    def ensure_catalog(self, catalog: Catalog) -> str:
        """Make sure Stripe has the catalog's products, prices and coupons, and a
        portal configuration offering every step the site's buttons open; return
        the configuration id.

        Idempotent, so it can run at every offline start: products and coupons
        use the catalog's ids, prices are found by lookup key, and the
        configuration is found by its metadata (and brought up to date).
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
                entry: ConfigurationCreateParamsFeaturesSubscriptionUpdateProduct = {
                    "product": product.id,
                    "prices": [self._ensure_price(price) for price in product.prices.values()],
                }
                if product.seats:
                    entry["adjustable_quantity"] = {
                        "enabled": True,
                        "minimum": product.seats.min,
                        "maximum": product.seats.max,
                    }
                products.append(entry)
            for coupon in catalog.coupons:
                self._ensure_coupon(coupon)

            features = self._portal_features_params(catalog, products)
            for config in self.client.v1.billing_portal.configurations.list({"active": True, "limit": 100}):
                if config.metadata and config.metadata.to_dict().get("managed_by") == CONFIG_MARKER:
                    # The update params have their own TypedDicts, alike but for optionality;
                    # the stand-in's validation checks this dict against them in the tests.
                    update = cast("ConfigurationUpdateParamsFeatures", features)
                    return self.client.v1.billing_portal.configurations.update(config.id, {"features": update}).id
            return self.client.v1.billing_portal.configurations.create(
                {
                    "business_profile": {"headline": "Manage your subscription"},
                    "metadata": {"managed_by": CONFIG_MARKER},
                    "features": features,
                }
            ).id

    @staticmethod
    def _portal_features_params(
        catalog: Catalog, products: list[ConfigurationCreateParamsFeaturesSubscriptionUpdateProduct]
    ) -> ConfigurationCreateParamsFeatures:
        portal = catalog.portal
        return {
            "invoice_history": {"enabled": True},
            # Stripe refuses subscription updates while this is disabled.
            "payment_method_update": {"enabled": True},
            "customer_update": {"enabled": True, "allowed_updates": ["email", "name", "address"]},
            "subscription_cancel": {
                "enabled": True,
                "mode": "immediately" if portal.cancel_mode == "immediately" else "at_period_end",
                "cancellation_reason": {
                    "enabled": True,
                    "options": ["too_expensive", "missing_features", "switched_service", "unused", "other"],
                },
            },
            "subscription_pause": {"enabled": portal.allow_pause},
            # subscription_update_confirm may only move to prices listed here.
            "subscription_update": {
                "enabled": True,
                "default_allowed_updates": ["price", "quantity", "promotion_code"],
                "proration_behavior": "create_prorations",
                "products": products,
            },
        }

    def _ensure_coupon(self, coupon: Coupon) -> None:
        try:
            self.client.v1.coupons.retrieve(coupon.id)
        except stripe.InvalidRequestError:
            params: CouponCreateParams = {
                "id": coupon.id,
                "name": coupon.name,
                "percent_off": coupon.percent_off,
                "duration": "forever" if coupon.duration == "forever" else "once" if coupon.duration == "once" else "repeating",
            }
            if coupon.duration_in_months:
                params["duration_in_months"] = coupon.duration_in_months
            self.client.v1.coupons.create(params)
        for code in coupon.promotion_codes:
            if not self.client.v1.promotion_codes.list({"code": code, "limit": 1}).data:
                self.client.v1.promotion_codes.create({"code": code, "promotion": {"type": "coupon", "coupon": coupon.id}})

    def _ensure_price(self, price: Price) -> str:
        found = self.client.v1.prices.list({"lookup_keys": [price.lookup_key], "limit": 1})
        if found.data:
            price_id = found.data[0].id
        else:
            price_id = self._create_price(price)
        self._prices[price.lookup_key] = (price_id, time.monotonic() + PRICE_CACHE_SECONDS)
        return price_id

    def _create_price(self, price: Price) -> str:
        return self.client.v1.prices.create(
            {
                "product": price.product_id,
                "currency": price.currency,
                "unit_amount": price.amount,
                "recurring": {"interval": "month" if price.interval == "month" else "year"},
                "lookup_key": price.lookup_key,
            }
        ).id
