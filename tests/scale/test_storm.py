"""`make storm` in small, as a test of correctness (issue 21, item 8): 200 customers'
renewal day on PostgreSQL + Redis, 2 instances under gunicorn and 2 queue workers, Stripe
(the stand-in) limited to 25 requests/s. Whatever the figures, afterwards the mirror equals
Stripe for every customer, every event is stored once and applied, no event cost more
than one refresh, and each failed payment sent its customer exactly one email, read from
an SMTP server on loopback. The same pieces as the benchmark (ops/storm/)."""

from __future__ import annotations

import os
import time
import uuid
from contextlib import ExitStack

import pytest
import sqlalchemy as sa

from ops.storm import deliveries, seed, site, stack, stats
from ops.storm.mailbox import Mailbox
from tests.helpers import database_url, free_port

CUSTOMERS = 200
KEY = "sk_test_scale_storm"
SECRET = "whsec_scale_storm"
PASSWORD = "storm-password-0123"
# Stripe's sandbox limit; a short latency keeps the test short.
RATE_LIMIT, LATENCY = 25.0, 0.02
CONVERGE_WITHIN = 90.0


def test_a_renewal_day_on_two_instances_and_two_workers_loses_nothing_and_sends_each_email_once(
    tmp_path, postgres_url, redis_url
):
    run = "storm" + uuid.uuid4().hex[:8]
    with ExitStack() as running:
        mailbox = running.enter_context(Mailbox(free_port()))
        stripe_url = stack.standin(running, free_port(), tmp_path / "standin.log")
        ports = [free_port(), free_port()]
        env = {
            "PATH": os.environ.get("PATH", ""),
            "STRIPE_SECRET_KEY": KEY,
            "STRIPE_API_BASE": stripe_url,
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "SECRET_KEY": "scale-storm-secret-key-the-same-on-every-instance",
            "APP_BASE_URL": f"http://127.0.0.1:{ports[0]}",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": database_url(tmp_path, "storm"),
            "QUEUE_URL": redis_url,
            "RATELIMIT_STORAGE_URI": redis_url,
            "MAIL_URL": mailbox.url,
            "MAIL_FROM": "billing@storm.example",
            "DEMO_PERSONAS": "off",
            "WEB_CONCURRENCY": "2",  # two cores: 2 instances x 2 workers, and 2 queue workers
        }
        if not stack.has_worker_command(env):
            pytest.skip("needs the site's queue workers (`flask worker`, issue 21 item 2)")
        for command in (["init-db"], ["stripe", "setup"]):
            done = stack.flask(env, *command)
            assert done.returncode == 0, done.stdout + done.stderr

        sdk = seed.client(stripe_url, KEY)
        seeded = seed.customers(sdk, CUSTOMERS, run, threads=16)
        app = site.in_process_app(env)
        site.add_accounts(app, {c.id: c.email for c in seeded}, PASSWORD)
        assert site.refresh_all(app, threads=16) == 0
        changed = seed.change(sdk, seeded, threads=16)
        expected = {c.customer.id: c.expected for c in changed}
        assert not any(site.mirrored(app)[customer] == state for customer, state in expected.items())
        events = deliveries.renewal_events(changed, run)
        stats.set_limits(stripe_url, LATENCY, RATE_LIMIT)

        instances = [stack.site(running, port, env, tmp_path / f"site{k}.log") for k, port in enumerate(ports)]
        for k in range(2):
            stack.worker(running, env, 4, tmp_path / f"worker{k}.log")
        stats.reset(stripe_url)
        sent = deliveries.deliver(events, instances, SECRET)

        deadline = time.monotonic() + CONVERGE_WITHIN
        while (stale := not_yet(app, expected)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not stale, f"{len(stale)} of {CUSTOMERS} not converged after {CONVERGE_WITHIN:g} s"
        # The last emails leave after their refresh is committed.
        failing = {c.email for c in seeded if c.payment_fails}
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and sum(mailbox.received.values()) < len(failing):
            time.sleep(0.2)
        time.sleep(1)  # and nothing more comes
        counts = stats.read(stripe_url)
        with app.app_context():
            rows = (
                app.extensions["sqlalchemy"]
                .session.execute(
                    sa.text("SELECT id, applied_at FROM stripe_events WHERE id LIKE :run"), {"run": f"evt_{run}_%"}
                )
                .all()
            )

    assert all(200 <= status < 300 for status in sent.statuses), sent.statuses
    # Nothing lost, each stored once (the id is the key), every one applied.
    assert sorted(event_id for event_id, _ in rows) == sorted(e.id for e in events)
    assert all(applied_at is not None for _, applied_at in rows)
    # Applied once each: no event cost more than one refresh (events of one customer collapse).
    assert counts.background_reads <= 2 * CUSTOMERS, counts.requests
    # One email per failed payment, to its customer; none to the others.
    assert dict(mailbox.received) == dict.fromkeys(failing, 1)


def not_yet(app, expected):
    """The customers whose mirror does not yet hold what Stripe said."""
    mirror = site.mirrored(app)
    return [customer for customer, state in expected.items() if mirror.get(customer) != state]
