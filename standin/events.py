"""Webhook events: what changed in the stand-in's state, sent signed to the app.

Stripe tells an endpoint what changed through events. The stand-in finds the
changes by comparing its objects before and after each request that may
change them (API POST/DELETE, a hosted page's form): only the objects that
request reached, as the state's undo log kept them (see `state.py`); the
others are unchanged. It builds the events Stripe
would send, and delivers them signed with the endpoint's secret, as Stripe
does (`Stripe-Signature: t=<timestamp>,v1=<HMAC-SHA256 of "<t>.<body>">`).

Real deliveries arrive late, twice, and out of order. Tests ask for that with
`mode="queued"` (held until `deliver()`), `duplicates=True` and
`deliver(shuffle=random.Random(seed))`; a delivery answered with anything
but 2xx stays pending, and the next `deliver()` retries it.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import stripe

from standin import objects
from standin.state import StripeObject

API_VERSION = "2026-10-28.endive"
# Deliver to a callable (in-process) or to a URL; it answers the HTTP status.
Deliver = Callable[[bytes, dict[str, str]], int]


def changes(before: dict[str, StripeObject], after: dict[str, StripeObject]) -> list[StripeObject]:
    """The events Stripe would send for the difference between two states, in a stable order
    (`after`'s). Objects absent from both, or equal in both, make no events, so the states
    may be just the objects a request reached (`State.changes`)."""
    found: list[StripeObject] = []
    for object_id, obj in after.items():
        old = before.get(object_id)
        if old == obj:
            continue
        kind = obj.get("object")
        if kind == "subscription":
            found += _subscription_events(old, obj)
        elif kind == "customer":
            if obj.get("deleted"):
                found += [_event("customer.deleted", old or obj)] if old and not old.get("deleted") else []
            elif old is not None:
                found.append(_event("customer.updated", obj, old))
        elif kind == "payment_method":
            was, now = (old or {}).get("customer"), obj.get("customer")
            if now and not was:
                found.append(_event("payment_method.attached", obj))
            elif was and not now:
                found.append(_event("payment_method.detached", obj, old))
        elif kind == "invoice":
            if obj["status"] == "paid" and (old is None or old["status"] != "paid"):
                found.append(_event("invoice.paid", obj))
            elif obj["status"] == "open" and obj.get("attempted") and not obj.get("amount_paid") and old is None:
                found.append(_event("invoice.payment_failed", obj))
        elif (
            kind == "checkout.session" and obj["status"] == "complete" and (old is None or old["status"] != "complete")
        ):
            found.append(_event("checkout.session.completed", obj))
        elif kind == "subscription_schedule":
            found.append(_schedule_event(old, obj))
        elif kind == "billing_portal.configuration":
            # "Occurs whenever a portal configuration is created / updated"
            # (https://docs.stripe.com/api/events/types: billing_portal.configuration.*).
            found.append(_catalog_event(kind, old, obj))
        elif kind in ("price", "product"):
            # Archiving is an update with `active` false; a moved lookup key updates both prices
            # (https://docs.stripe.com/api/events/types: price.*, product.*).
            found.append(_catalog_event(kind, old, obj))
    return found


def _catalog_event(kind: str, old: StripeObject | None, new: StripeObject) -> StripeObject:
    if new.get("deleted"):
        return _event(f"{kind}.deleted", old or new)
    return _event(f"{kind}.created", new) if old is None else _event(f"{kind}.updated", new, old)


def _schedule_event(old: StripeObject | None, new: StripeObject) -> StripeObject:
    """subscription_schedule.created, then .released, .completed or .canceled when it ends that
    way, else .updated (a phase started) (https://docs.stripe.com/api/events/types)."""
    if old is None:
        return _event("subscription_schedule.created", new)
    if new["status"] != old["status"] and new["status"] in ("released", "completed", "canceled"):
        return _event(f"subscription_schedule.{new['status']}", new, old)
    return _event("subscription_schedule.updated", new, old)


# Stripe sends customer.subscription.trial_will_end this long before a trial ends, or at
# once for a trial that ends sooner (https://docs.stripe.com/billing/subscriptions/trials).
TRIAL_WILL_END_NOTICE = 3 * 24 * 60 * 60


def _trial_will_end(new: StripeObject) -> list[StripeObject]:
    """A subscription made with a trial shorter than the notice: the event comes at once.
    Read in the subscription's own time (a test clock's), from its trial's start. A trial
    that enters the notice period as time passes, or is moved later, sends nothing here:
    not modelled."""
    start, end = new.get("trial_start"), new.get("trial_end")
    if new.get("status") != "trialing" or not start or not end or end - start > TRIAL_WILL_END_NOTICE:
        return []
    return [_event("customer.subscription.trial_will_end", new)]


def _subscription_events(old: StripeObject | None, new: StripeObject) -> list[StripeObject]:
    if old is None:
        return [_event("customer.subscription.created", new), *_trial_will_end(new)]
    if new["status"] == "canceled" and old["status"] != "canceled":
        return [_event("customer.subscription.deleted", new)]
    found = [_event("customer.subscription.updated", new, old)]
    if new["status"] == "paused" and old["status"] != "paused":
        found.append(_event("customer.subscription.paused", new))
    elif old["status"] == "paused" and new["status"] != "paused":
        found.append(_event("customer.subscription.resumed", new))
    return found


def _event(event_type: str, obj: StripeObject, old: StripeObject | None = None) -> StripeObject:
    # Fields starting with "_" are the stand-in's private notes, never shown (as in `api`).
    data: dict[str, Any] = {"object": json.loads(json.dumps({k: v for k, v in obj.items() if not k.startswith("_")}))}
    if old is not None:
        # Stripe names the top-level fields that changed, with their former values.
        data["previous_attributes"] = {k: v for k, v in old.items() if obj.get(k) != v and not k.startswith("_")}
    return {
        "id": objects.new_id("evt_"),
        "object": "event",
        "api_version": API_VERSION,
        "created": objects.now(),
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


@dataclass
class Webhooks:
    """Where events go, and how (see the module docstring)."""

    secret: str | None = None
    deliver_to: Deliver | None = None
    url: str | None = None
    # "immediate": right after the request that made them; "queued": on deliver(); "off".
    mode: str = "off"
    duplicates: bool = False
    pending: list[StripeObject] = field(default_factory=list)
    # Every delivery attempt: (event id, event type, HTTP status; 0 when unreachable).
    attempts: list[tuple[str, str, int]] = field(default_factory=list)

    def add(self, events: list[StripeObject]) -> None:
        if self.mode != "off" and (self.deliver_to is not None or self.url is not None):
            self.pending.extend(events)

    def deliver(self, shuffle: random.Random | None = None) -> list[tuple[str, int]]:
        """Send every pending event (twice each with `duplicates`, in a random
        order with `shuffle`); those not answered 2xx stay pending."""
        batch, self.pending = self.pending, []
        sends = [event for event in batch for _ in range(2 if self.duplicates else 1)]
        if shuffle is not None:
            shuffle.shuffle(sends)
        results, failed = [], {}
        for event in sends:
            status = self._send(event)
            results.append((event["id"], status))
            if not 200 <= status < 300:
                failed[event["id"]] = event
        self.pending.extend(event for event in batch if event["id"] in failed)
        return results

    def _send(self, event: StripeObject) -> int:
        body = json.dumps(event)
        header = stripe.WebhookSignature.generate_signature_header(body, self.secret or "", int(time.time()))
        headers = {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header}
        if self.deliver_to is not None:
            status = self.deliver_to(body.encode(), headers)
        else:
            status = _post(self.url or "", body.encode(), headers)
        self.attempts.append((event["id"], event["type"], status))
        return status


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except OSError:
        return 0
