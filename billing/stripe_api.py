"""The one module through which the running site calls Stripe, and the only
module of the core that imports `stripe`.

Views hand it params built by `flows` and get back plain values (a URL, an id,
a `SubscriptionSnapshot`). Any Stripe failure comes out as one exception type,
`BillingError`, whose message is safe to show a customer; a request stops starting
calls once it has waited its share on Stripe. The merchant's tools
(`ops/`) reuse its client for `flask stripe setup` and `doctor`.
"""

from __future__ import annotations

import logging
import time
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING

import stripe

from billing.budget import background_budget
from billing.eligibility import ENDED_STATUSES
from billing.snapshots import (
    CustomerSnapshot,
    EventFacts,
    PortalSnapshot,
    SubscriptionSnapshot,
    customer_snapshot,
    event_facts,
    expanded,
    portal_features_of,
    snapshot,
)

if TYPE_CHECKING:
    from stripe.params import SubscriptionResumeParams
    from stripe.params.billing_portal import SessionCreateParams as PortalSessionParams
    from stripe.params.checkout import SessionCreateParams as CheckoutSessionParams

    from billing.catalog import Catalog
    from billing.flows import Release
    from billing.settings import Settings

log = logging.getLogger(__name__)

# Each Stripe call is retried this many times on a timeout, a dropped connection or a 5xx,
# with the same Idempotency-Key (so Stripe applies a POST once).
STRIPE_NETWORK_RETRIES = 2
TOO_SLOW = "Stripe is answering too slowly right now. Please try again in a moment."
NOT_CONFIGURED = "Billing is not set up on this site yet. Please try again later."

# When the current request stops starting Stripe calls (StripeAPI.start_request), so a slow
# Stripe holds a worker for one call's timeouts, not several. Unset outside requests.
give_up_at: ContextVar[float | None] = ContextVar("stripe_give_up_at", default=None)


class BillingError(Exception):
    """A Stripe call failed; `str(error)` is a message a customer can act on."""


class OutcomeUnknown(BillingError):
    """A call that changes something failed in a way that leaves open whether Stripe applied
    it: re-read what it would change before telling the customer anything more."""


# Stripe's advice: a network error or a 500 leaves the request's result indeterminate (it may
# have been applied), unlike a 4xx or a 429, which change nothing
# (https://docs.stripe.com/error-low-level#network-errors, #server-errors).
UNKNOWN_OUTCOME = "Stripe did not confirm this in time, so we don't know yet whether it went through."


def _may_have_gone_through(error: stripe.StripeError) -> bool:
    return isinstance(error, stripe.APIConnectionError) or (
        isinstance(error, stripe.APIError) and (error.http_status or 500) >= 500
    )


def _user_message(error: stripe.StripeError) -> str:
    """Turn a Stripe exception into words for the customer; log the details."""
    details = (type(error).__name__, error.http_status, error.code, error.request_id, error.user_message)
    log.warning("Stripe call failed: %s (status=%s, code=%s, request_id=%s): %s", *details)
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


def sdk_console_log_through_logging() -> None:
    """STRIPE_LOG=debug (or info) makes the SDK print each line it logs to stderr itself,
    past Python's logging and so past the redaction of secrets and session URLs that the
    site adds to every log record (billing.web). Keep the level, drop the print: the SDK's
    "stripe" logger says the same lines, to stderr unless logging is set up otherwise."""
    level = stripe.log if stripe.log in ("debug", "info") else stripe._util.STRIPE_LOG
    if level not in ("debug", "info"):
        return
    stripe.log = None
    stripe._util.STRIPE_LOG = None  # read when each line is logged (the SDK has no other switch)
    sdk = logging.getLogger("stripe")
    sdk.setLevel(level.upper())
    if not logging.getLogger().handlers and not sdk.handlers:
        sdk.addHandler(logging.StreamHandler())  # stderr, where the SDK printed


def transient(error: BillingError) -> bool:
    """Whether trying again later may succeed: a 429, no answer, or a failure on Stripe's
    side. Not a refusal (an unknown customer, a bad key): that one would fail forever."""
    cause = error.__cause__
    return not isinstance(cause, stripe.StripeError) or isinstance(
        cause, (stripe.RateLimitError, stripe.APIConnectionError, stripe.APIError)
    )


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


@contextmanager
def stripe_errors(doing: str, configured: bool = True, changes: bool = False) -> Iterator[None]:
    """Turn any Stripe failure inside the block into a BillingError; refuse to start a
    call once the request has spent its time on Stripe, or when no key is set. A call
    that `changes` something and may have gone through raises OutcomeUnknown instead, so
    that nobody reads "Nothing was changed" about a change Stripe made."""
    if not configured:
        log.error("Could not %s: STRIPE_SECRET_KEY is not set. See `flask stripe doctor`.", doing)
        raise BillingError(NOT_CONFIGURED)
    limit = give_up_at.get()
    if limit is not None and time.monotonic() > limit:
        log.warning("Did not %s: this request already waited too long for Stripe", doing)
        raise BillingError(TOO_SLOW)
    budget = background_budget.get()  # set by background work (billing.budget)
    if budget is not None:
        budget.take()
    try:
        yield
    except stripe.StripeError as e:
        log.info("Stripe failed while trying to %s", doing)
        message = _user_message(e)
        if changes and _may_have_gone_through(e):
            raise OutcomeUnknown(UNKNOWN_OUTCOME) from e
        raise BillingError(message) from e


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
# What a customer reads when a plan's price is archived or missing at Stripe.
PLAN_UNAVAILABLE = "This plan is not available right now. Please try again later."
# Marks the portal configuration this app manages, so a rerun finds it.
CONFIG_MARKER = "portal-deep-links-starter"
DEFAULT_CONFIGURATION = "being the account's default"


class WebhookRefused(Exception):
    """A webhook request that is not a genuine, fresh Stripe event."""


def _signed_at(header: str) -> int:
    """The timestamp a verified Stripe-Signature header signed: its first `t=`, as the SDK reads it."""
    return next(int(value) for name, _, value in (item.partition("=") for item in header.split(",")) if name == "t")


class StripeAPI:
    """One StripeClient for the whole app, and the calls the running site makes.

    Without STRIPE_SECRET_KEY the site still starts (pages read only the local
    database) and each call fails softly with a BillingError that says so."""

    def __init__(self, settings: Settings, http_client: stripe.HTTPClient | None = None) -> None:
        sdk_console_log_through_logging()
        self.configured = bool(settings.stripe_secret_key)
        # Where the customers this client makes live (recorded beside each customer id).
        self.origin = settings.stripe_origin
        # Who answers instead of Stripe itself, if anyone (a stand-in); shown by the tools.
        self.served_by: str | None = None
        # The portal configuration sessions are created with: STRIPE_PORTAL_CONFIGURATION,
        # else the one `flask stripe setup` made, else None (the account's default).
        self.configuration = settings.stripe_portal_configuration
        self._configured = settings.stripe_portal_configuration
        # The catalog's price ids as read at start (lookup key -> id).
        self._prices: dict[str, str] = {}
        # The portal configuration in use as this process last read it (at start, or as
        # `flask stripe setup` left it), for `portal_facts` to store: pages read the stored copy.
        self.known_portal: PortalSnapshot | None = None
        # Seconds a request may spend on Stripe before it starts no more calls.
        self.request_seconds = stripe_call_seconds(settings.stripe_timeout)
        self.client = stripe.StripeClient(
            settings.stripe_secret_key or "sk_test_not_configured",
            stripe_version=STRIPE_API_VERSION,
            base_addresses={"api": settings.stripe_api_base},
            # StripeClient retries nothing by default; retries reuse the Idempotency-Key.
            max_network_retries=STRIPE_NETWORK_RETRIES,
            # No answer within STRIPE_TIMEOUT: down (and retried), not an 80 s wait.
            http_client=http_client or stripe.new_default_http_client(timeout=settings.stripe_timeout),
        )

    @classmethod
    def connect(cls, settings: Settings, catalog: Catalog, http_client: stripe.HTTPClient | None = None) -> StripeAPI:
        """The client, with what the pages need read once at start, for the app to store:
        the portal configuration's features (for eligibility) and the catalog's price ids."""
        api = cls(settings, http_client)
        if not api.configured:
            log.info("STRIPE_SECRET_KEY is not set: pages work, buttons say billing is not set up.")
            return api
        try:
            api.read_portal()
            api.load_prices([p.lookup_key for p in catalog.prices])
        except BillingError as e:
            log.warning("Could not read the portal configuration or prices at start: %s", e)
        return api

    def calling(self, doing: str, changes: bool = False) -> typing.ContextManager[None]:
        """`with api.calling("do something"):` around SDK calls: see stripe_errors.
        `changes`: the call changes the customer's billing (not only opens a page)."""
        return stripe_errors(doing, self.configured, changes)

    def start_request(self) -> Token[float | None]:
        """A request begins: past one call's worst case it starts no more Stripe calls, so none
        waits longer than slowest_request_seconds (gunicorn's timeout is set above it)."""
        return give_up_at.set(time.monotonic() + self.request_seconds)

    @staticmethod
    def end_request(token: Token[float | None]) -> None:
        try:
            give_up_at.reset(token)
        except ValueError:  # ended in another context than it started: no limit from here
            give_up_at.set(None)

    def create_customer(self, email: str, owner_id: str, idempotency_key: str) -> str:
        """Create a billing account's Stripe customer (`owner_id`: the sign-in's id of its
        person, kept in the customer's metadata). The key must be unique to this account
        (not just its id, which a reset database hands out again): a double click
        then makes one customer, not two."""
        with self.calling("create a customer"):
            customer = self.client.v1.customers.create(
                {"email": email, "metadata": {"user_id": owner_id}},
                {"idempotency_key": idempotency_key},
            )
        return customer.id

    def find_price_id(self, lookup_key: str) -> str:
        """Ask Stripe for the id of the active price with this lookup key (clicks use
        the local mirror instead: see mirror.price_id).

        Lookup keys let the catalog name prices the same way in test mode, live
        mode and offline, where Stripe's generated ids all differ.
        """
        with self.calling("find a price"):
            prices = self.client.v1.prices.list({"lookup_keys": [lookup_key], "active": True, "limit": 1})
        if not prices.data:
            log.error("No active Stripe price has lookup key %r: run the Stripe setup.", lookup_key)
            raise BillingError(PLAN_UNAVAILABLE)
        self.remember_price(lookup_key, prices.data[0].id)
        return prices.data[0].id

    def remember_price(self, lookup_key: str, price_id: str) -> None:
        self._prices[lookup_key] = price_id

    def use_configuration(self, configuration: str) -> None:
        """Sessions use this portal configuration, unless STRIPE_PORTAL_CONFIGURATION names one."""
        self.configuration = self._configured or configuration

    def lookup_keys(self) -> dict[str, str]:
        """The catalog's lookup keys by the price ids known here (to name a schedule's coming price)."""
        return {price_id: lookup_key for lookup_key, price_id in self._prices.items()}

    def known_price_id(self, lookup_key: str) -> str | None:
        """The price id read at start, without asking Stripe (for pages, which make no calls)."""
        return self._prices.get(lookup_key)

    def load_prices(self, lookup_keys: list[str]) -> None:
        """Resolve the catalog's lookup keys at start, so clicks need no extra call."""
        self._prices.update(self.active_prices(lookup_keys))

    def active_prices(self, lookup_keys: list[str]) -> dict[str, str]:
        """The ids of the active prices with these lookup keys (a key with none is missing)."""
        found: dict[str, str] = {}
        with self.calling("find the catalog's prices"):
            for start in range(0, len(lookup_keys), 10):  # Stripe takes 10 lookup keys a call
                prices = self.client.v1.prices.list(
                    {"lookup_keys": lookup_keys[start : start + 10], "active": True, "limit": 100}
                )
                found.update({price.lookup_key: price.id for price in prices.data if price.lookup_key})
        return found

    def read_portal(self) -> PortalSnapshot | None:
        """Read the portal configuration in use from Stripe (None: the account has none),
        and create sessions with it from now on.

        Without STRIPE_PORTAL_CONFIGURATION, the one `flask stripe setup` made is
        used (found by its metadata), else the account's default configuration.
        """
        with self.calling("read the portal configuration"):
            found = self.configuration_in_use()
        if found is None:
            return None
        config, found_by = found
        self.remember_portal(PortalSnapshot(config.id, found_by, portal_features_of(config)))
        return self.known_portal

    def remember_portal(self, portal: PortalSnapshot) -> None:
        """The portal configuration in use (read here, or stored): sessions name it,
        unless it is the account's default, which Stripe uses when none is named."""
        self.known_portal = portal
        if portal.found_by != DEFAULT_CONFIGURATION:
            self.use_configuration(portal.id)

    def configuration_in_use(self) -> tuple[stripe.billing_portal.Configuration, str] | None:
        """The portal configuration sessions are created with, and how it was found."""
        if self._configured:
            return self.client.v1.billing_portal.configurations.retrieve(
                self._configured
            ), "STRIPE_PORTAL_CONFIGURATION"
        managed = self.managed_configuration()
        if managed is not None:
            return managed, "its metadata (flask stripe setup made it)"
        defaults = self.client.v1.billing_portal.configurations.list({"is_default": True, "limit": 1})
        return (defaults.data[0], DEFAULT_CONFIGURATION) if defaults.data else None

    def promotion_code_id(self, code: str, product_id: str) -> str:
        """The id (promo_...) of an active promotion code that applies to this product.

        Checked before use, so a customer with a stale or mistyped code gets a
        clear message here instead of an error on Stripe's page.
        """
        with self.calling("check the promotion code"):
            found = self.client.v1.promotion_codes.list(
                {"code": code, "active": True, "limit": 1, "expand": ["data.promotion.coupon"]}
            )
        promo = found.data[0] if found.data else None
        coupon = promo.promotion.coupon if promo else None
        if promo is None or not isinstance(coupon, stripe.Coupon) or not coupon.valid:
            raise BillingError(f"The code {code} is not valid or has expired.")
        if promo.expires_at is not None and promo.expires_at <= time.time():
            raise BillingError(f"The code {code} has expired.")
        with self.calling("check the promotion code"):
            # A coupon's `applies_to` is only returned when asked for, and only if it is set.
            full = self.client.v1.coupons.retrieve(coupon.id, {"expand": ["applies_to"]})
        applies_to = getattr(full, "applies_to", None)
        if applies_to is not None and product_id not in (applies_to.products or []):
            raise BillingError(f"The code {code} does not apply to this plan.")
        return promo.id

    def resume_subscription(self, subscription_id: str, params: SubscriptionResumeParams) -> SubscriptionSnapshot:
        """Resume a paused subscription (the portal has no resume step)."""
        with self.calling("resume your subscription", changes=True):
            return snapshot(self.client.v1.subscriptions.resume(subscription_id, params), self.lookup_keys())

    def release_schedule(self, release: Release) -> str:
        """Release a subscription schedule: the change it holds for the period's end is dropped
        and the subscription goes on as it is. Returns the schedule's status ("released")."""
        with self.calling("keep your current plan", changes=True):
            schedule = self.client.v1.subscription_schedules.release(release.schedule, release.params)
        return schedule.status

    # [tutorial: open-portal]
    def open_portal(self, params: PortalSessionParams) -> str:
        """Create a portal session. Sessions are short-lived: one per click, never cached."""
        with self.calling("open the customer portal"):
            session = self.client.v1.billing_portal.sessions.create(params)
        return session.url

    # [end]

    def open_checkout(self, params: CheckoutSessionParams) -> str:
        """Create a Checkout Session for a first subscription; its URL, one per click."""
        with self.calling("start Checkout"):
            session = self.client.v1.checkout.sessions.create(params)
        if session.url is None:
            raise BillingError("Stripe did not return a Checkout page. Please try again.")
        return session.url

    def checkout_result(self, session_id: str, customer: str) -> tuple[SubscriptionSnapshot, CustomerSnapshot] | None:
        """What a completed Checkout Session made for this customer, in one read: the
        subscription, and the card just entered. None for a session that does not exist
        or is another customer's (the id comes from the URL)."""
        expand = ["subscription", *expanded("subscription."), "customer.invoice_settings.default_payment_method"]
        try:
            with self.calling("read the Checkout result"):
                session = self.client.v1.checkout.sessions.retrieve(session_id, {"expand": expand})
        except BillingError as e:
            if isinstance(e.__cause__, stripe.InvalidRequestError) and e.__cause__.code == "resource_missing":
                return None
            raise
        paying, made = session.customer, session.subscription
        if not isinstance(paying, stripe.Customer) or not isinstance(made, stripe.Subscription):
            return None
        return (snapshot(made, self.lookup_keys()), customer_snapshot(paying)) if paying.id == customer else None

    def verify_event(self, payload: bytes, signature: str | None, secret: str) -> EventFacts:
        """Check the Stripe-Signature header (an HMAC of the timestamp and the
        body with the endpoint's secret) and that it was signed within 5 minutes of
        now, so a captured request cannot be replayed later."""
        try:
            event = self.client.construct_event(payload, signature, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS)
        except stripe.SignatureVerificationError as e:
            raise WebhookRefused(f"Bad signature: {e.user_message or e}") from e
        except ValueError as e:
            raise WebhookRefused("The body is not a Stripe event.") from e
        # The SDK refuses only timestamps too far in the past. Stripe's tolerance is a window
        # around now (https://docs.stripe.com/webhooks/signatures#replay-attacks, "between the
        # timestamp and the current time"): one signed an hour ahead would be replayable for an
        # hour and five minutes, so it is refused the same way.
        signed_at = _signed_at(signature or "")
        if signed_at > time.time() + WEBHOOK_TOLERANCE_SECONDS:
            raise WebhookRefused(f"Bad signature: Timestamp outside the tolerance zone ({signed_at})")
        return event_facts(event)

    def customer(self, customer: str) -> CustomerSnapshot | None:
        """The customer's billing details and default card (None once deleted)."""
        with self.calling("read your billing details"):
            found = self.client.v1.customers.retrieve(customer, {"expand": ["invoice_settings.default_payment_method"]})
        if getattr(found, "deleted", False):
            return None
        return customer_snapshot(found)

    def current_subscription(self, customer: str) -> SubscriptionSnapshot | None:
        """The subscription the pages should show (see `customer_state`)."""
        return self.customer_state(customer, with_profile=False)[0]

    def customer_state(
        self, customer: str, with_profile: bool = True
    ) -> tuple[SubscriptionSnapshot | None, CustomerSnapshot | None]:
        """The subscription the pages should show (the newest one that is not over, else
        the newest one, so a canceled customer sees that it ended) and the customer's
        billing details, in one read: the subscriptions come with their customer expanded
        (https://docs.stripe.com/api/expanding_objects). A customer with no subscription
        takes a second read for the details (None once the customer is deleted)."""
        expand = expanded("data.") + (["data.customer.invoice_settings.default_payment_method"] if with_profile else [])
        with self.calling("read your subscription"):
            subs = self.client.v1.subscriptions.list(
                {"customer": customer, "status": "all", "limit": 10, "expand": expand}
            )
        chosen = current_of(subs.data)
        if chosen is None:
            return None, self.customer(customer) if with_profile else None
        paying = chosen.customer
        profile = customer_snapshot(paying) if with_profile and isinstance(paying, stripe.Customer) else None
        return snapshot(chosen, self.lookup_keys()), profile

    def managed_configuration(self) -> stripe.billing_portal.Configuration | None:
        """The portal configuration `flask stripe setup` made (found by its metadata)."""
        configurations = self.client.v1.billing_portal.configurations.list({"active": True, "limit": 100})
        for config in configurations.auto_paging_iter():
            if config.metadata and config.metadata.to_dict().get("managed_by") == CONFIG_MARKER:
                return config
        return None


def current_of(subscriptions: list[stripe.Subscription]) -> stripe.Subscription | None:
    """Of one customer's subscriptions, the one the pages show: the newest that is not
    over, else the newest (so a canceled customer sees that it ended)."""
    ordered = sorted(subscriptions, key=lambda s: s.created, reverse=True)
    live = [s for s in ordered if s.status not in ENDED_STATUSES]
    chosen = live or ordered
    return chosen[0] if chosen else None
