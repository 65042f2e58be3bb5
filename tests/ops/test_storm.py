"""The storm's mechanics (`ops/storm`), not its figures: its events are signed as Stripe
signs them and verify with the site's secret, two per customer with about 5% failed
payments, shuffled; a delivery answered with a non-2xx is sent again later, newly signed;
the report says met or missed beside each target."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import stripe

from ops.storm import deliveries, report
from ops.storm.seed import Changed, Customer
from ops.storm.site import Mirrored

SECRET = "whsec_storm_test"


def changed(count):
    found = []
    for n in range(count):
        customer = Customer(n, f"cus_{n:08d}", f"c{n}@storm.example", f"sub_{n:08d}", f"in_{n:08d}")
        subscription = {
            "id": customer.subscription,
            "object": "subscription",
            "customer": customer.id,
            "items": {"data": [{"price": {"unit_amount": 1000}}]},
        }
        found.append(Changed(customer, subscription, Mirrored("active", True, f"Customer {n} (renewed)")))
    return found


def test_two_events_per_customer_signed_as_stripe_signs_them_shuffled():
    events = deliveries.renewal_events(changed(100), "run")
    assert len(events) == 200 and len({e.id for e in events}) == 200
    assert Counter(e.customer for e in events) == Counter({f"cus_{n:08d}": 2 for n in range(100)})
    types = Counter(e.type for e in events)
    assert types == {"customer.subscription.updated": 100, "invoice.paid": 95, "invoice.payment_failed": 5}
    assert [e.type for e in events[:10]] != ["customer.subscription.updated", "invoice.paid"] * 5  # shuffled
    for e in events[:5]:
        verified = stripe.Webhook.construct_event(e.body, e.signed(SECRET), SECRET)
        assert (verified.id, verified.type, verified.data.object.customer) == (e.id, e.type, e.customer)


def test_a_delivery_answered_with_a_non_2xx_is_sent_again_later(monkeypatch):
    monkeypatch.setattr(deliveries, "RETRY_AFTER", 0.05)
    seen: list[tuple[str, str]] = []

    class Endpoint(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((body["id"], self.headers["Stripe-Signature"]))
            # The first delivery of each event fails, as a busy site's might.
            status = 503 if [i for i, _ in seen].count(body["id"]) == 1 else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        events = deliveries.renewal_events(changed(3), "run")
        result = deliveries.deliver(events, [f"http://127.0.0.1:{server.server_port}"], SECRET, senders=4)
    finally:
        server.shutdown()
    assert result.statuses == {503: 6, 200: 6} and result.first_2xx == 0 and not result.gave_up
    assert Counter(i for i, _ in seen) == dict.fromkeys((e.id for e in events), 2)


def test_each_figure_is_printed_beside_its_target():
    lines = report.Report("SQLite", [])
    lines.add("webhook p99 12.0 ms", "p99 <= 50 ms", True)
    lines.add("clicks: 3 failed", "0 failed", False)
    lines.add("  429s: 0")
    assert lines.text().splitlines() == [
        "SQLite",
        "  webhook p99 12.0 ms   target p99 <= 50 ms: met",
        "  clicks: 3 failed      target 0 failed: MISSED",
        "    429s: 0",
    ]
    assert report.percentile([0.1] * 99 + [2.0], 50) == 0.1 and report.ms(0.0123) == "12.3 ms"
