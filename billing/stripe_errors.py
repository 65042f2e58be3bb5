"""How the site's Stripe calls fail: one exception type with a message a customer can
act on, and the time bound that keeps a slow Stripe from holding a server worker.

It makes no Stripe calls itself: `billing.stripe_api` wraps each of its calls in
`stripe_errors`, and the timing figures size gunicorn's worker timeout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import stripe

log = logging.getLogger(__name__)

# Each Stripe call is retried this many times on a timeout, a dropped connection or a 5xx,
# with the same Idempotency-Key (so Stripe applies a POST once).
STRIPE_NETWORK_RETRIES = 2
TOO_SLOW = "Stripe is answering too slowly right now. Please try again in a moment."
NOT_CONFIGURED = "Billing is not set up on this site yet. Please try again later."

# When the current request stops starting Stripe calls (see StripeAPI.start_request): a
# button whose first call was slow gives up instead of holding a server worker for
# several calls' worth of timeouts. Unset (no limit) outside requests, e.g. in commands.
give_up_at: ContextVar[float | None] = ContextVar("stripe_give_up_at", default=None)


class BillingError(Exception):
    """A Stripe call failed; `str(error)` is a message a customer can act on."""


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
def stripe_errors(doing: str, configured: bool = True) -> Iterator[None]:
    """Turn any Stripe failure inside the block into a BillingError; refuse to start a
    call once the request has spent its time on Stripe, or when no key is set."""
    if not configured:
        log.error("Could not %s: STRIPE_SECRET_KEY is not set. See `flask stripe doctor`.", doing)
        raise BillingError(NOT_CONFIGURED)
    limit = give_up_at.get()
    if limit is not None and time.monotonic() > limit:
        log.warning("Did not %s: this request already waited too long for Stripe", doing)
        raise BillingError(TOO_SLOW)
    try:
        yield
    except stripe.StripeError as e:
        log.info("Stripe failed while trying to %s", doing)
        raise BillingError(_user_message(e)) from e
