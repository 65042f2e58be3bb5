"""Stripe tells us: the webhook endpoint. Customers change their subscription on
Stripe's pages, so each event is a hint to re-read that customer (see `mirror`);
a failed payment or a trial about to end also sends the customer an email (`notices`)."""

from __future__ import annotations

import logging

from flask import Blueprint, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from billing import current, mirror, notices
from billing.email import EmailNotSent
from billing.settings import WEBHOOK_PATH
from billing.stripe_api import BillingError, WebhookRefused

log = logging.getLogger(__name__)
bp = Blueprint("webhook", __name__)


# [tutorial: webhook]
@bp.post(WEBHOOK_PATH)
def stripe_webhook() -> ResponseReturnValue:
    """Stripe's events. No CSRF token (Stripe cannot have one): the signature
    proves the sender instead. Answers 2xx once the event is applied (or was
    already, or is of no interest), 400 to anything not signed by Stripe, and
    503 when it could not be applied, so that Stripe retries it later."""
    secret = current.settings().stripe_webhook_secret
    if secret is None:
        log.error("A webhook arrived but STRIPE_WEBHOOK_SECRET is not set: refused. See `flask stripe doctor`.")
        return {"error": "Webhooks are not configured on this site."}, 400
    api = current.stripe_api()
    try:
        event = api.verify_event(request.get_data(), request.headers.get("Stripe-Signature"), secret)
    except WebhookRefused as e:
        log.warning("Refused a webhook: %s", e)
        return {"error": str(e)}, 400
    try:
        keys = [p.lookup_key for p in current.catalog().prices]
        outcome = mirror.apply_event(api, event, keys, then=notices.on_event)
    except (BillingError, SQLAlchemyError, EmailNotSent) as e:
        log.warning("Could not apply event %s (%s), Stripe will retry: %s", event.id, event.type, e)
        return {"error": "The event could not be applied now; retry later."}, 503
    return {"received": event.id, "outcome": outcome}, 200


# [end]
