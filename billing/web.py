"""Web plumbing every response goes through: security headers, secrets kept out
of the logs, and a bound on how long one request may wait on Stripe."""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask, Response, g

from billing import current
from billing.settings import STRIPE_DEFAULT_API_BASE, Settings, origin


def init_app(app: Flask, settings: Settings) -> None:
    redact_secrets_in_logs(settings)
    # Kept on the app so that anything else served from this origin can add them too.
    headers = app.extensions["security_headers"] = security_header_values(content_security_policy(settings))
    app.after_request(lambda response: add_headers(response, headers))
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
_installed = False


def redact_secrets_in_logs(settings: Settings) -> None:
    """Whatever logs a line (this app, the Stripe SDK at debug level, a library
    echoing an error, the server's access log), the Stripe key, the webhook secret and
    email links' tokens come out as "[redacted]"."""
    global _installed
    _LOG_SECRETS.update(s for s in (settings.stripe_secret_key, settings.stripe_webhook_secret) if s)
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
        for secret in _LOG_SECRETS:
            redacted = redacted.replace(secret, "[redacted]")
        if redacted != message:
            record.msg, record.args = redacted, None
        return record

    logging.setLogRecordFactory(redacting_factory)
