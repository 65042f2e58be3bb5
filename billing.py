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
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar, cast

import stripe

from catalog import Catalog, Coupon, Price, Product, format_amount
from eligibility import PortalFeatures

if TYPE_CHECKING:
    from config import Settings
    from stripe.params import CouponCreateParams, CustomerCreateParams, SubscriptionCreateParams
    from stripe.params.billing_portal import (
        ConfigurationCreateParams,
        ConfigurationCreateParamsFeatures,
        ConfigurationUpdateParams,
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

# How old a webhook's signature may be: older deliveries are refused as replays.
WEBHOOK_TOLERANCE_SECONDS = 300
# How long a lookup key -> price id answer is reused before asking Stripe again
# (a key can move to a new price when the merchant changes an amount).
PRICE_CACHE_SECONDS = 300
# Statuses after which a subscription is over; another one may have replaced it.
FINAL_STATUSES = frozenset({"canceled", "incomplete_expired"})
# Marks the portal configuration this app manages, so a rerun finds it.
CONFIG_MARKER = "portal-deep-links-starter"
# Marks what `flask demo seed` makes, so `flask demo reset` removes only that.
PERSONA_MARKER = "demo_persona"
PERSONA_CLOCK_PREFIX = "Demo persona: "
DEFAULT_CONFIGURATION = "being the account's default"
PORTAL_HEADLINE = "Manage your subscription"
# The reasons the portal asks a canceling customer to pick from.
CANCELLATION_REASONS = ("too_expensive", "missing_features", "switched_service", "unused", "other")

T = TypeVar("T")


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


@dataclass(frozen=True)
class CustomerSnapshot:
    """What the local mirror keeps of a Stripe customer (see models.BillingProfile)."""

    name: str | None
    email: str | None
    address: dict[str, str | None] | None
    card_brand: str | None
    card_last4: str | None
    card_exp_month: int | None
    card_exp_year: int | None


def customer_snapshot(customer: stripe.Customer) -> CustomerSnapshot:
    """Needs `invoice_settings.default_payment_method` expanded."""
    pm = customer.invoice_settings.default_payment_method if customer.invoice_settings else None
    card = pm.card if isinstance(pm, stripe.PaymentMethod) else None
    address = customer.address.to_dict() if customer.address else None
    return CustomerSnapshot(
        name=customer.name,
        email=customer.email,
        address=address if address and any(address.values()) else None,
        card_brand=card.brand if card else None,
        card_last4=card.last4 if card else None,
        card_exp_month=card.exp_month if card else None,
        card_exp_year=card.exp_year if card else None,
    )


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


# Each Stripe call is retried this many times on a timeout, a dropped connection or a 5xx,
# with the same Idempotency-Key (so Stripe applies a POST once).
STRIPE_NETWORK_RETRIES = 2


def stripe_call_seconds(stripe_timeout: float) -> float:
    """The longest one Stripe call can take: every attempt timing out, plus the SDK's
    waits between attempts (0.5 s, then 1 s)."""
    delay, most = float(stripe.HTTPClient.INITIAL_DELAY), float(stripe.HTTPClient.MAX_DELAY)
    waits = sum(min(delay * (1 << n), most) for n in range(STRIPE_NETWORK_RETRIES))
    return stripe_timeout * (1 + STRIPE_NETWORK_RETRIES) + waits


def slowest_request_seconds(stripe_timeout: float) -> float:
    """The longest a request can wait on Stripe: no call starts after one call's worst
    case (see stripe_errors), so at most two calls' worth. 63 s with the default 10 s."""
    return 2 * stripe_call_seconds(stripe_timeout)


# When the current request stops starting Stripe calls (see Billing.start_request): a
# button whose first call was slow gives up instead of holding a server worker for
# several calls' worth of timeouts. Unset (no limit) outside requests, e.g. in commands.
_give_up_at: ContextVar[float | None] = ContextVar("stripe_give_up_at", default=None)
TOO_SLOW = "Stripe is answering too slowly right now. Please try again in a moment."


@contextmanager
def stripe_errors(doing: str) -> Iterator[None]:
    """Turn any Stripe failure inside the block into a BillingError; refuse to start a
    call once the request has spent its time on Stripe."""
    give_up_at = _give_up_at.get()
    if give_up_at is not None and time.monotonic() > give_up_at:
        log.warning("Did not %s: this request already waited too long for Stripe", doing)
        raise BillingError(TOO_SLOW)
    try:
        yield
    except stripe.StripeError as e:
        log.info("Stripe failed while trying to %s", doing)
        raise BillingError(_user_message(e)) from e


@dataclass
class SetupReport:
    """What `Billing.ensure_catalog` did: the portal configuration to use, each
    change it made (none on a rerun), and what it could not fix by itself."""

    configuration: str
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _features_of(config: stripe.billing_portal.Configuration) -> PortalFeatures:
    f = config.features
    return PortalFeatures(
        subscription_update=f.subscription_update.enabled,
        subscription_cancel=f.subscription_cancel.enabled,
        cancel_mode=f.subscription_cancel.mode,
        subscription_pause=bool(f.subscription_pause and f.subscription_pause.enabled),
        payment_method_update=f.payment_method_update.enabled,
        customer_update=f.customer_update.enabled,
        adjustable_quantity=frozenset(
            p.product for p in (f.subscription_update.products or []) if p.adjustable_quantity and p.adjustable_quantity.enabled
        ),
    )


@dataclass(frozen=True)
class PriceFacts:
    """An active Stripe price, as `doctor` compares it with the catalog."""

    id: str
    product: str
    amount: int | None
    currency: str
    interval: str | None


def _price_facts(price: stripe.Price) -> PriceFacts:
    return PriceFacts(
        id=price.id,
        product=price.product if isinstance(price.product, str) else price.product.id,
        amount=price.unit_amount,
        currency=price.currency,
        interval=price.recurring.interval if price.recurring and price.recurring.interval_count == 1 else None,
    )


@dataclass(frozen=True)
class ConfigurationFacts:
    """The portal configuration sessions use, as `doctor` checks it."""

    id: str
    found_by: str
    active: bool
    invoice_history: bool
    features: PortalFeatures
    # What `subscription_update` may switch to: product id -> its price ids.
    products: dict[str, frozenset[str]]


@dataclass(frozen=True)
class AccountFacts:
    """What the Stripe account has, for `doctor` (which is pure: see doctor.py)."""

    key_error: str | None = None
    # Active prices by catalog lookup key (more than one, or none, is a problem).
    prices: dict[str, list[PriceFacts]] = field(default_factory=dict)
    configuration: ConfigurationFacts | None = None
    configuration_error: str | None = None


def _same_terms(current: stripe.Price, price: Price) -> bool:
    """Whether a Stripe price charges what the catalog price says."""
    product = current.product if isinstance(current.product, str) else current.product.id
    recurring = current.recurring
    return (
        current.unit_amount == price.amount
        and current.currency == price.currency
        and product == price.product_id
        and recurring is not None
        and recurring.interval == price.interval
        and recurring.interval_count == 1
    )


def _describe_price(price: stripe.Price) -> str:
    amount = format_amount(price.unit_amount or 0, price.currency)
    return f"{amount}/{price.recurring.interval}" if price.recurring else amount


def _matches(wanted: Any, actual: Any) -> bool:
    """Whether what Stripe has already says everything `wanted` says (Stripe
    adds fields and defaults of its own; lists may come back in another order)."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(_matches(value, actual.get(key)) for key, value in wanted.items())
    if isinstance(wanted, list):
        if not isinstance(actual, list) or len(wanted) != len(actual):
            return False
        unmatched = list(actual)
        for item in wanted:
            match = next((i for i, candidate in enumerate(unmatched) if _matches(item, candidate)), None)
            if match is None:
                return False
            unmatched.pop(match)
        return True
    return bool(wanted == actual)


class WebhookRefused(Exception):
    """A webhook request that is not a genuine, fresh Stripe event."""


@dataclass(frozen=True)
class EventFacts:
    """What the site needs of a verified event: which customer it is about."""

    id: str
    type: str
    customer: str | None


def _event_customer(event: stripe.Event) -> str | None:
    """The customer an event is about, whatever kind of object it carries."""
    data = getattr(event, "data", None)
    obj = getattr(data, "object", None)
    if getattr(obj, "object", None) == "customer":
        return str(getattr(obj, "id", "")) or None
    customer = getattr(obj, "customer", None)
    if customer is None:
        # payment_method.detached: the card no longer names its customer.
        customer = getattr(getattr(data, "previous_attributes", None), "customer", None)
    if isinstance(customer, str):
        return customer
    return str(customer.id) if customer is not None and hasattr(customer, "id") else None


class Billing:
    """One StripeClient for the whole app, and the calls the routes need."""

    def __init__(self, settings: Settings, http_client: stripe.HTTPClient | None = None) -> None:
        # The portal configuration sessions are created with: STRIPE_PORTAL_CONFIGURATION,
        # else the one `flask stripe setup` made, else None (the account's default).
        self.configuration = settings.stripe_portal_configuration
        self._configured = settings.stripe_portal_configuration
        self._prices: dict[str, tuple[str, float]] = {}
        self._features = PortalFeatures()
        # Seconds a request may spend on Stripe before it starts no more calls.
        self.request_seconds = stripe_call_seconds(settings.stripe_timeout)
        self.client = stripe.StripeClient(
            settings.stripe_secret_key,
            stripe_version=STRIPE_API_VERSION,
            base_addresses={"api": settings.stripe_api_base},
            # StripeClient retries nothing by default. Retries are safe: the SDK
            # sends the same Idempotency-Key with each, so Stripe applies a POST once.
            max_network_retries=STRIPE_NETWORK_RETRIES,
            # A Stripe that does not answer within STRIPE_TIMEOUT is treated as down
            # (and retried), rather than holding the customer's request for 80 s.
            http_client=http_client or stripe.new_default_http_client(timeout=settings.stripe_timeout),
        )

    def start_request(self) -> Token[float | None]:
        """A customer's request begins: once one call's worst case (every attempt timing
        out) has passed, it starts no more Stripe calls, so no request waits longer than
        slowest_request_seconds (and a server's worker timeout can be set above it).
        Pass the answer to `end_request` when the request ends."""
        return _give_up_at.set(time.monotonic() + self.request_seconds)

    @staticmethod
    def end_request(token: Token[float | None]) -> None:
        try:
            _give_up_at.reset(token)
        except ValueError:  # ended in another context than it started: no limit from here
            _give_up_at.set(None)

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
        """Read the portal configuration in use from Stripe, for the eligibility rules.

        Without STRIPE_PORTAL_CONFIGURATION, the one `flask stripe setup` made is
        used (found by its metadata), else the account's default configuration.
        """
        with stripe_errors("read the portal configuration"):
            found = self._configuration_in_use()
        if found is not None:
            config, found_by = found
            if found_by != DEFAULT_CONFIGURATION:
                self.configuration = config.id
            self._features = _features_of(config)
        return self._features

    def _configuration_in_use(self) -> tuple[stripe.billing_portal.Configuration, str] | None:
        """The portal configuration sessions are created with, and how it was found."""
        if self._configured:
            return self.client.v1.billing_portal.configurations.retrieve(self._configured), "STRIPE_PORTAL_CONFIGURATION"
        managed = self._managed_configuration()
        if managed is not None:
            return managed, "its metadata (flask stripe setup made it)"
        defaults = self.client.v1.billing_portal.configurations.list({"is_default": True, "limit": 1})
        return (defaults.data[0], DEFAULT_CONFIGURATION) if defaults.data else None

    def account_facts(self, catalog: Catalog) -> AccountFacts:
        """What `doctor` checks, read from Stripe: the catalog's prices by lookup
        key and the portal configuration in use. Never raises for a Stripe error:
        the error is a finding too."""
        prices: dict[str, list[PriceFacts]] = {price.lookup_key: [] for price in catalog.prices}
        try:
            keys = list(prices)
            for start in range(0, len(keys), 10):  # Stripe takes 10 lookup keys a call
                found = self.client.v1.prices.list({"lookup_keys": keys[start : start + 10], "active": True, "limit": 100})
                for price in found.auto_paging_iter():
                    if price.lookup_key in prices:
                        prices[price.lookup_key].append(_price_facts(price))
        except (stripe.AuthenticationError, stripe.PermissionError) as e:
            return AccountFacts(key_error=e.user_message or str(e))
        except stripe.StripeError as e:
            return AccountFacts(key_error=f"Stripe could not be asked: {e.user_message or e}")
        try:
            found_config = self._configuration_in_use()
        except stripe.StripeError as e:
            return AccountFacts(prices=prices, configuration_error=e.user_message or str(e))
        if found_config is None:
            return AccountFacts(prices=prices)
        config, found_by = found_config
        products = {
            entry.product: frozenset(entry.prices) for entry in (config.features.subscription_update.products or [])
        }
        return AccountFacts(
            prices=prices,
            configuration=ConfigurationFacts(
                id=config.id,
                found_by=found_by,
                active=config.active,
                invoice_history=config.features.invoice_history.enabled,
                features=_features_of(config),
                products=products,
            ),
        )

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

    def verify_event(self, payload: bytes, signature: str | None, secret: str) -> EventFacts:
        """Check the Stripe-Signature header (an HMAC of the timestamp and the
        body with the endpoint's secret) and that it is at most 5 minutes old,
        so a captured request cannot be replayed later."""
        try:
            event = self.client.construct_event(payload, signature, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS)
        except stripe.SignatureVerificationError as e:
            raise WebhookRefused(f"Bad signature: {e.user_message or e}") from e
        except ValueError as e:
            raise WebhookRefused("The body is not a Stripe event.") from e
        return EventFacts(id=event.id, type=event.type, customer=_event_customer(event))

    def customer(self, customer: str) -> CustomerSnapshot | None:
        """The customer's billing details and default card (None once deleted)."""
        with stripe_errors("read your billing details"):
            found = self.client.v1.customers.retrieve(customer, {"expand": ["invoice_settings.default_payment_method"]})
        if getattr(found, "deleted", False):
            return None
        return customer_snapshot(found)

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


    # --- the account itself: `flask stripe setup` and `flask stripe doctor` -------------

    def ensure_catalog(self, catalog: Catalog, return_url: str | None = None) -> SetupReport:
        """Make the Stripe account match the catalog: products, prices, coupons,
        promotion codes, and a portal configuration offering every step the
        site's buttons open. Returns what it changed (nothing, on a rerun).

        Idempotent, so offline mode runs it at every start: products and coupons
        use the catalog's ids, prices are found by lookup key, and the portal
        configuration by the metadata this app puts on it.
        """
        report = SetupReport(configuration="")
        with stripe_errors("set up the catalog in Stripe"):
            products = [self._ensure_product(product, report) for product in catalog.products]
            for coupon in catalog.coupons:
                self._ensure_coupon(coupon, report)
            report.configuration = self._ensure_configuration(catalog, products, return_url, report)
        self.configuration = self._configured or report.configuration
        return report

    def _ensure_product(self, product: Product, report: SetupReport) -> ConfigurationCreateParamsFeaturesSubscriptionUpdateProduct:
        description = product.tagline or product.name
        existing = self._retrieve_or_none(self.client.v1.products.retrieve, product.id)
        if existing is None:
            self.client.v1.products.create({"id": product.id, "name": product.name, "description": description})
            report.changes.append(f"Created product {product.id} ({product.name}).")
        else:
            stale = [name for name, ok in [("name", existing.name == product.name), ("description", existing.description == description), ("active", existing.active)] if not ok]
            if stale:
                self.client.v1.products.update(product.id, {"name": product.name, "description": description, "active": True})
                report.changes.append(f"Updated product {product.id}: {', '.join(stale)}.")
        entry: ConfigurationCreateParamsFeaturesSubscriptionUpdateProduct = {
            "product": product.id,
            "prices": [self._ensure_price(price, report) for price in product.prices.values()],
            "adjustable_quantity": {"enabled": False},
        }
        if product.seats:
            entry["adjustable_quantity"] = {"enabled": True, "minimum": product.seats.min, "maximum": product.seats.max}
        return entry

    def _ensure_price(self, price: Price, report: SetupReport) -> str:
        """The id of the price with this lookup key and the catalog's terms.

        Stripe prices are immutable: a changed amount makes a new price, moves
        the lookup key to it (`transfer_lookup_key`) and archives the old one.
        Existing subscribers keep the old price until they change plan.
        """
        found = self.client.v1.prices.list({"lookup_keys": [price.lookup_key], "limit": 1}).data
        current = found[0] if found else None
        label = f"{price.lookup_key} ({price.display_amount}/{price.interval})"
        if current is not None and _same_terms(current, price):
            if not current.active:
                self.client.v1.prices.update(current.id, {"active": True})
                report.changes.append(f"Reactivated price {label}.")
            price_id = current.id
        else:
            price_id = self._create_price(price)
            if current is None:
                report.changes.append(f"Created price {label}.")
            else:
                self.client.v1.prices.update(current.id, {"active": False})
                report.changes.append(
                    f"Replaced price {label}: the lookup key moved from {current.id} "
                    f"({_describe_price(current)}, now archived) to {price_id}."
                )
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
                # Take the key from an older price with other terms (archived just after).
                "transfer_lookup_key": True,
            }
        ).id

    def _ensure_coupon(self, coupon: Coupon, report: SetupReport) -> None:
        """Coupons can't change once made (only their name): a different one in
        Stripe is reported, for the merchant to give the catalog's a new id."""
        existing = self._retrieve_or_none(self.client.v1.coupons.retrieve, coupon.id)
        if existing is None:
            params: CouponCreateParams = {
                "id": coupon.id,
                "name": coupon.name,
                "percent_off": coupon.percent_off,
                "duration": "forever" if coupon.duration == "forever" else "once" if coupon.duration == "once" else "repeating",
            }
            if coupon.duration_in_months:
                params["duration_in_months"] = coupon.duration_in_months
            self.client.v1.coupons.create(params)
            report.changes.append(f"Created coupon {coupon.id} ({coupon.name}).")
        else:
            terms = {"percent_off": coupon.percent_off, "duration": coupon.duration, "duration_in_months": coupon.duration_in_months}
            differ = [f"{name} is {getattr(existing, name, None)!r} in Stripe, {value!r} in the catalog" for name, value in terms.items() if getattr(existing, name, None) != value]
            if differ:
                report.warnings.append(
                    f"Coupon {coupon.id}: {'; '.join(differ)}. Stripe can't change a coupon's terms: "
                    "give the catalog's coupon a new id and run setup again."
                )
            if not existing.valid:
                report.warnings.append(f"Coupon {coupon.id} is no longer valid in Stripe (expired or used up): give it a new id.")
            if existing.name != coupon.name:
                self.client.v1.coupons.update(coupon.id, {"name": coupon.name})
                report.changes.append(f"Renamed coupon {coupon.id} to {coupon.name!r}.")
        for code in coupon.promotion_codes:
            self._ensure_promotion_code(code, coupon.id, report)

    def _ensure_promotion_code(self, code: str, coupon_id: str, report: SetupReport) -> None:
        found = self.client.v1.promotion_codes.list({"code": code, "limit": 1}).data
        if not found:
            self.client.v1.promotion_codes.create({"code": code, "promotion": {"type": "coupon", "coupon": coupon_id}})
            report.changes.append(f"Created promotion code {code} for coupon {coupon_id}.")
            return
        promo = found[0]
        coupon = promo.promotion.coupon
        if (coupon if isinstance(coupon, str) else coupon.id if coupon else None) != coupon_id:
            report.warnings.append(
                f"Promotion code {code} belongs to another coupon in Stripe: codes can't move; pick another code."
            )
        elif not promo.active:
            self.client.v1.promotion_codes.update(promo.id, {"active": True})
            report.changes.append(f"Reactivated promotion code {code}.")

    def _ensure_configuration(
        self,
        catalog: Catalog,
        products: list[ConfigurationCreateParamsFeaturesSubscriptionUpdateProduct],
        return_url: str | None,
        report: SetupReport,
    ) -> str:
        features = self._portal_features_params(catalog, products)
        wanted: dict[str, object] = {"business_profile": {"headline": PORTAL_HEADLINE}, "features": features}
        if return_url:
            # Where the portal's own "back" link goes when a session sets no return_url.
            wanted["default_return_url"] = return_url
        managed = self._managed_configuration()
        if managed is None:
            created = self.client.v1.billing_portal.configurations.create(
                cast("ConfigurationCreateParams", {**wanted, "metadata": {"managed_by": CONFIG_MARKER}})
            )
            report.changes.append(f"Created portal configuration {created.id}.")
            return created.id
        if not _matches(wanted, managed.to_dict()):
            # The update params have their own TypedDicts, alike but for optionality;
            # the stand-in's validation checks this dict against them in the tests.
            self.client.v1.billing_portal.configurations.update(managed.id, cast("ConfigurationUpdateParams", wanted))
            report.changes.append(f"Updated portal configuration {managed.id} to match the catalog.")
        return managed.id

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
                "cancellation_reason": {"enabled": True, "options": list(CANCELLATION_REASONS)},
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

    def _managed_configuration(self) -> stripe.billing_portal.Configuration | None:
        """The portal configuration `ensure_catalog` made (found by its metadata)."""
        configurations = self.client.v1.billing_portal.configurations.list({"active": True, "limit": 100})
        for config in configurations.auto_paging_iter():
            if config.metadata and config.metadata.to_dict().get("managed_by") == CONFIG_MARKER:
                return config
        return None

    @staticmethod
    def _retrieve_or_none(retrieve: Callable[[str], T], object_id: str) -> T | None:
        try:
            return retrieve(object_id)
        except stripe.InvalidRequestError as e:
            if e.code == "resource_missing":
                return None
            raise

    # --- demo personas: `flask demo seed` and `flask demo reset` (test mode only) --------

    def create_persona_customer(
        self, email: str, name: str, persona: str, payment_method: str, test_clock: str | None = None
    ) -> str:
        """A customer marked as a demo persona, paying with one of Stripe's test
        payment methods (e.g. "pm_card_visa", or "pm_card_chargeCustomerFail",
        which attaches but declines every charge)."""
        with stripe_errors("create a demo customer"):
            params: CustomerCreateParams = {"email": email, "name": name, "metadata": {PERSONA_MARKER: persona}}
            if test_clock:
                params["test_clock"] = test_clock
            customer = self.client.v1.customers.create(params)
            card = self.client.v1.payment_methods.attach(payment_method, {"customer": customer.id})
            self.client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": card.id}})
        return customer.id

    def create_persona_subscription(
        self, customer: str, lookup_key: str, quantity: int = 1, trial_days: int | None = None, cancel_at_period_end: bool = False
    ) -> SubscriptionSnapshot:
        """A subscription made directly (no Checkout), in flexible billing mode like Checkout's."""
        params: SubscriptionCreateParams = {
            "customer": customer,
            "items": [{"price": self.price_id(lookup_key), "quantity": quantity}],
            "billing_mode": {"type": "flexible"},
            "cancel_at_period_end": cancel_at_period_end,
            "expand": ["discounts"],
        }
        if trial_days:
            params["trial_period_days"] = trial_days
        with stripe_errors("create a demo subscription"):
            return snapshot(self.client.v1.subscriptions.create(params))

    def pause_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        with stripe_errors("pause the subscription"):
            return snapshot(self.client.v1.subscriptions.pause(subscription_id, {"expand": ["discounts"]}))

    def cancel_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        with stripe_errors("cancel the subscription"):
            return snapshot(self.client.v1.subscriptions.cancel(subscription_id, {"expand": ["discounts"]}))

    def create_test_clock(self, name: str) -> tuple[str, int]:
        """A test clock frozen at the current time; returns its id and that time.
        A customer made on it lives in the clock's time, which `advance_test_clock` moves."""
        with stripe_errors("create a test clock"):
            clock = self.client.v1.test_helpers.test_clocks.create({"frozen_time": int(time.time()), "name": name})
        return clock.id, clock.frozen_time

    def advance_test_clock(self, clock_id: str, frozen_time: int, timeout: float = 120.0) -> None:
        """Move a test clock forward and wait until Stripe has played out what happens meanwhile."""
        with stripe_errors("advance a test clock"):
            clock = self.client.v1.test_helpers.test_clocks.advance(clock_id, {"frozen_time": frozen_time})
            deadline = time.monotonic() + timeout
            while clock.status == "advancing":
                if time.monotonic() > deadline:
                    raise BillingError(f"Test clock {clock_id} is still advancing after {timeout:.0f} s.")
                time.sleep(1)
                clock = self.client.v1.test_helpers.test_clocks.retrieve(clock_id)
        if clock.status != "ready":
            raise BillingError(f"Test clock {clock_id} ended in status {clock.status}.")

    def persona_customers(self, email: str, persona: str) -> list[str]:
        """Ids of the customers with this email that were made for this persona."""
        with stripe_errors("find demo customers"):
            found = self.client.v1.customers.list({"email": email, "limit": 100})
            return [c.id for c in found.auto_paging_iter() if c.metadata and c.metadata.to_dict().get(PERSONA_MARKER) == persona]

    def persona_test_clocks(self, name: str) -> list[str]:
        """Ids of the test clocks `flask demo seed` made under this name."""
        with stripe_errors("find demo test clocks"):
            clocks = self.client.v1.test_helpers.test_clocks.list({"limit": 100})
            return [c.id for c in clocks.auto_paging_iter() if c.name == name]

    def delete_customer(self, customer_id: str) -> None:
        """Delete a customer; Stripe cancels its subscriptions at once."""
        with stripe_errors("delete a customer"):
            self.client.v1.customers.delete(customer_id)

    def delete_test_clock(self, clock_id: str) -> None:
        """Delete a test clock, and with it every customer that lives on it."""
        with stripe_errors("delete a test clock"):
            self.client.v1.test_helpers.test_clocks.delete(clock_id)
