"""Web plumbing every response goes through: security headers, who may cache it,
secrets kept out of the logs, and a bound on how long one request may wait on Stripe."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, g, request, session

from billing import current, signin
from billing.settings import STRIPE_DEFAULT_API_BASE, Settings, origin


def init_app(app: Flask, settings: Settings) -> None:
    redact_secrets_in_logs(settings)
    # Kept on the app so that anything else served from this origin can add them too.
    headers = app.extensions["security_headers"] = security_header_values(content_security_policy(settings))
    app.after_request(lambda response: add_headers(response, headers))
    app.after_request(cache_control)
    app.before_request(start_stripe_budget)
    app.teardown_request(end_stripe_budget)


def content_security_policy(settings: Settings) -> str:
    """No inline script or style, no framing. Forms may only post here and go on
    to Stripe's hosted pages (Chrome applies form-action to the 303 as well)."""
    hosted = {"https://checkout.stripe.com", "https://billing.stripe.com"}
    if settings.stripe_api_base != STRIPE_DEFAULT_API_BASE:
        hosted.add(origin(settings.stripe_api_base))  # a Stripe stand-in on its own port
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self' " + " ".join(sorted(hosted)),
            "frame-ancestors 'none'",
        ]
    )


def security_header_values(policy: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Frame-Options": "DENY",
    }


def add_headers(response: Response, headers: dict[str, str]) -> Response:
    for name, value in headers.items():
        response.headers.setdefault(name, value)
    return response


# Caching is HTTP's own (RFC 9111), so any browser, proxy or CDN in front of the site can do
# it and nothing here replays a page. A page that is the same for everyone signed out says
# `public` with an ETag (a 304 when the visitor's copy is current); every other answer says
# `private, no-store`, which no cache may keep, shared or the browser's: it may show a
# signed-in customer, a flashed message or a CSRF token
# (https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Cache-Control).
# How long a copy of a public page may be shown without asking again: a deploy's new prices
# reach everyone within a minute, and asking again costs a 304 when nothing changed.
PUBLIC_SECONDS = 60
# Written whole, once: Werkzeug's cache_control object re-serializes the header on each change.
PUBLIC, PRIVATE = f"public, max-age={PUBLIC_SECONDS}", "private, no-store"
View = TypeVar("View", bound=Callable[..., Any])


def public_when_signed_out(view: View) -> View:
    """Mark a view whose page depends only on its address for everyone signed out."""

    @wraps(view)
    def marked(*args: Any, **kwargs: Any) -> Any:
        g.public_when_signed_out = True
        return view(*args, **kwargs)

    return marked  # type: ignore[return-value]


def cache_control(response: Response) -> Response:
    """Who may keep this answer: decided here for every view. Public only when the view
    said so and the visitor is signed out and brought no session (nothing of theirs shaped
    the page); private otherwise. Static files keep what Flask says of them (their own
    Cache-Control, with an ETag)."""
    if g.get("public_when_signed_out") and response.status_code == 200 and _nothing_of_the_visitors():
        response.headers["Cache-Control"] = PUBLIC
        # A visitor who sends a cookie may be signed in, and gets another page: caches keep
        # this one for requests without it (RFC 9111, section 4.1: a stored answer serves only
        # requests whose headers named by Vary match). Flask says so too (Flask-Login reads
        # the session on every request).
        response.vary.add("Cookie")
        response.add_etag()
        response.make_conditional(request)  # a 304 when If-None-Match names this ETag
        return response
    if "Cache-Control" not in response.headers:
        never_store(response)
    return response


def _nothing_of_the_visitors() -> bool:
    """Signed out (as the view found: a sign-in by a proxy's header counts too), and no
    session brought or begun."""
    return not session and not session.modified and signin.person() is None


def never_store(response: Response) -> Response:
    response.headers["Cache-Control"] = PRIVATE
    return response


def start_stripe_budget() -> None:
    """Each request may wait on Stripe for a bounded time (see StripeAPI.start_request)."""
    g.stripe_budget = current.stripe_api().start_request()


def end_stripe_budget(error: BaseException | None) -> None:
    if "stripe_budget" in g:
        current.stripe_api().end_request(g.pop("stripe_budget"))


# Secrets of every app made in this process, kept out of every log line (see below).
_LOG_SECRETS: set[str] = set()
# A signed email link's token (billing.links) in a logged address, such as the server's
# access log line "GET /links/<token>": unused, it opens a step of someone's billing.
_LINK_TOKEN = re.compile(r"(/links/)[A-Za-z0-9_.=-]+")
# A portal or Checkout session's URL (in the SDK's debug log of Stripe's answer): until it
# expires it opens that customer's billing for whoever holds it, like a link token. Stripe's
# hosts or a custom domain, https://billing.stripe.com/p/session/... and
# https://checkout.stripe.com/c/pay/cs_...#... (the fragment too): all after the path's start.
_SESSION_URL = re.compile(r"(/p/session/|/c/pay/)[^\s\"'\\]+")
_installed = False
# The shortest SMTP password redacted: a shorter one would blank ordinary words in every line.
MIN_REDACTED = 8


def redact_secrets_in_logs(settings: Settings) -> None:
    """Whatever logs a line (this app, the Stripe SDK at debug level, a library
    echoing an error, the server's access log), the Stripe key, the webhook secret, the
    SMTP password, email links' tokens and session URLs come out as "[redacted]"."""
    global _installed
    _LOG_SECRETS.update(s for s in (settings.stripe_secret_key, settings.stripe_webhook_secret) if s)
    if settings.mail and settings.mail.password and len(settings.mail.password) >= MIN_REDACTED:
        _LOG_SECRETS.add(settings.mail.password)
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: logging reports it when it emits
            return record
        redacted = _LINK_TOKEN.sub(r"\1[redacted]", message) if "/links/" in message else message
        if "/p/session/" in redacted or "/c/pay/" in redacted:
            redacted = _SESSION_URL.sub(r"\1[redacted]", redacted)
        for secret in _LOG_SECRETS:
            redacted = redacted.replace(secret, "[redacted]")
        if redacted != message:
            record.msg, record.args = redacted, None
        return record

    logging.setLogRecordFactory(redacting_factory)
