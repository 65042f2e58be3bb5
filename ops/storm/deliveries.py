"""The renewal day's events, delivered as Stripe delivers them: 2 handled events per
customer, signed, shuffled, sent by concurrent senders to the instances in turn, each
answer timed. An event answered with anything but a 2xx (or not at all) is sent again
later, newly signed, as Stripe does; Stripe waits longer (exponential backoff over up to
three days: https://docs.stripe.com/webhooks#automatic-retries), here RETRY_AFTER seconds,
so that a renewal day's retries fit in a benchmark."""

from __future__ import annotations

import heapq
import http.client
import json
import random
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import stripe

from billing.settings import WEBHOOK_PATH
from ops.storm.seed import Changed

RETRY_AFTER = 5.0
API_VERSION = "2026-10-28.endive"


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    customer: str
    body: str  # the JSON Stripe posts

    def signed(self, secret: str) -> str:
        """The Stripe-Signature header for a delivery now: t=<now>,v1=<HMAC-SHA256 of "t.body">."""
        return str(stripe.WebhookSignature.generate_signature_header(self.body, secret, int(time.time())))


def event(event_id: str, event_type: str, obj: dict[str, Any], previous: dict[str, Any] | None = None) -> Event:
    """One event as Stripe's API shapes it (https://docs.stripe.com/api/events/object)."""
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    body = {
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": data,
    }
    return Event(event_id, event_type, obj["customer"], json.dumps(body))


def renewal_events(changed: list[Changed], run: str, seed: int = 21) -> list[Event]:
    """Per customer: customer.subscription.updated (the subscription as Stripe answered the
    change) and the renewal's invoice.paid, or invoice.payment_failed for the failing few;
    all shuffled (Stripe does not deliver in order)."""
    found = []
    for one in changed:
        customer = one.customer
        found.append(
            event(
                f"evt_{run}_{customer.n}_sub",
                "customer.subscription.updated",
                one.subscription,
                {"cancel_at_period_end": False},
            )
        )
        failed = customer.payment_fails
        # The renewal's invoice, as the event carries it (the fields the site could read of it).
        invoice = {
            "id": customer.invoice or f"in_{run}_{customer.n}",
            "object": "invoice",
            "customer": customer.id,
            "status": "open" if failed else "paid",
            "attempted": True,
            "amount_paid": 0 if failed else one.subscription["items"]["data"][0]["price"]["unit_amount"],
            "billing_reason": "subscription_cycle",
        }
        kind = "invoice.payment_failed" if failed else "invoice.paid"
        found.append(event(f"evt_{run}_{customer.n}_inv", kind, invoice))
    random.Random(seed).shuffle(found)
    return found


@dataclass
class Deliveries:
    """What the senders saw: each answer's time (s) and status (0: no answer)."""

    seconds: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    first_2xx: int = 0
    gave_up: list[str] = field(default_factory=list)
    took: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def deliver(events: list[Event], instances: list[str], secret: str, senders: int = 16, attempts: int = 5) -> Deliveries:
    """Send every event (the k-th to instance k mod n), `senders` at once; a failed delivery
    is due again RETRY_AFTER s later, at most `attempts` deliveries in all."""
    result = Deliveries()
    due: list[tuple[float, int, int, Event]] = [
        (0.0, k, 1, e) for k, e in enumerate(events)
    ]  # (when, k, attempt, event)
    heapq.heapify(due)
    waiting = threading.Condition()
    in_flight = [0]
    started = time.monotonic()

    def take() -> tuple[int, int, Event] | None:
        with waiting:
            while True:
                if due:
                    when, k, attempt, e = due[0]
                    wait = started + when - time.monotonic()
                    if wait <= 0:
                        heapq.heappop(due)
                        in_flight[0] += 1
                        return k, attempt, e
                    waiting.wait(wait)
                elif in_flight[0]:
                    waiting.wait()  # a delivery under way may fail and come back
                else:
                    return None

    def send() -> None:
        while (taken := take()) is not None:
            k, attempt, e = taken
            url = instances[(k + attempt - 1) % len(instances)]
            status, seconds = post(url, e, secret)
            with result.lock:
                result.seconds.append(seconds)
                result.statuses[status] += 1
                if attempt == 1 and 200 <= status < 300:
                    result.first_2xx += 1
            with waiting:
                in_flight[0] -= 1
                if not 200 <= status < 300:
                    if attempt < attempts:
                        later = time.monotonic() - started + RETRY_AFTER
                        heapq.heappush(due, (later, k, attempt + 1, e))
                    else:
                        result.gave_up.append(e.id)
                waiting.notify_all()

    threads = [threading.Thread(target=send, daemon=True) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.took = time.monotonic() - started
    return result


def post(url: str, e: Event, secret: str) -> tuple[int, float]:
    """One delivery on a new connection, as Stripe makes them: (status, seconds); status 0
    when no answer came (Stripe counts that as a failure too)."""
    where = urllib.parse.urlsplit(url)
    headers = {"Content-Type": "application/json", "Stripe-Signature": e.signed(secret), "User-Agent": "Stripe/1.0"}
    begun = time.perf_counter()
    connection = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=30)
    try:
        connection.request("POST", WEBHOOK_PATH, body=e.body.encode(), headers=headers)
        answer = connection.getresponse()
        answer.read()
        return answer.status, time.perf_counter() - begun
    except (OSError, http.client.HTTPException):
        return 0, time.perf_counter() - begun
    finally:
        connection.close()
