"""Stripe tells us: the webhook endpoint. It only records: each event is kept
(billing.inbox) and answered at once, and the background work re-reads what it is
about from Stripe (billing.worker), one read per customer however many events came."""

from __future__ import annotations

import logging

from flask import Blueprint, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from billing import current, inbox, queue
from billing.models import db
from billing.settings import WEBHOOK_PATH
from billing.stripe_api import WebhookRefused

log = logging.getLogger(__name__)
bp = Blueprint("webhook", __name__)


# [tutorial: webhook]
@bp.post(WEBHOOK_PATH)
def stripe_webhook() -> ResponseReturnValue:
    """Stripe's events. No CSRF token (Stripe cannot have one): the signature
    proves the sender instead. Answers 200 once the event is safely recorded (or was
    already, or is of no interest), in milliseconds: no Stripe call, no lock, no email
    here. 400 to anything not signed by Stripe; 503 when the database could not record
    it, so that Stripe delivers it again later."""
    secret = current.settings().stripe_webhook_secret
    if secret is None:
        log.error("A webhook arrived but STRIPE_WEBHOOK_SECRET is not set: refused. See `flask stripe doctor`.")
        return {"error": "Webhooks are not configured on this site."}, 400
    payload = request.get_data()
    try:
        event = current.stripe_api().verify_event(payload, request.headers.get("Stripe-Signature"), secret)
    except WebhookRefused as e:
        log.warning("Refused a webhook: %s", e)
        return {"error": str(e)}, 400
    try:
        outcome = inbox.record(event, payload.decode())
    except SQLAlchemyError as e:
        db.session.rollback()
        log.warning("Could not record event %s (%s), Stripe will retry: %s", event.id, event.type, type(e).__name__)
        return {"error": "The event could not be recorded now; retry later."}, 503
    subject = inbox.subject_of(event)
    if outcome == "recorded" and subject is not None and not inbox.waiting_before(event, subject):
        queue.refresh_soon(subject)
    return {"received": event.id, "outcome": outcome}, 200


# [end]
