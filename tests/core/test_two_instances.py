"""Two instances of the site, as two processes on one database, get the same
webhook event at the same moment: it is applied once. (CI runs this on
SQLite and on PostgreSQL; on PostgreSQL the second insert of the event id
waits for the first transaction and then fails, on SQLite the write lock
does the same.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import stripe

from app import create_app
from billing.models import BillingAccount, StripeEvent, db
from tests.helpers import TEST_CATALOG, database_url, event_body, free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_two_instances"


def settings(standin_url, db_url):
    return {
        "STRIPE_SECRET_KEY": "sk_test_two_instances",
        "STRIPE_API_BASE": standin_url,
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "APP_BASE_URL": "http://localhost",
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATABASE_URL": db_url,
        "CATALOG_PATH": TEST_CATALOG,
        "DEMO_PERSONAS": "off",
        # Each instance applies its events before answering, so the test reads the result at once.
        "QUEUE_URL": "immediate",
    }


def start_instance(env):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(port)],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), **env},
        stdout=subprocess.DEVNULL,
        stderr=open(os.environ.get("INSTANCE_LOG", os.devnull), "a"),  # noqa: SIM115 - open while the server runs
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("the instance did not start")


def post(url, body, header, results, barrier):
    request = urllib.request.Request(
        url + "/stripe/webhook",
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Stripe-Signature": header},
    )
    barrier.wait()
    with urllib.request.urlopen(request, timeout=30) as response:
        results.append(json.loads(response.read())["outcome"])


def test_the_same_event_to_two_instances_at_once_is_applied_once(standin_url, tmp_path):  # noqa: F811
    env = settings(standin_url, database_url(tmp_path, "shared"))
    app = create_app({"TESTING": True, **env})
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init-db"]).exit_code == 0
    assert runner.invoke(args=["stripe", "setup"]).exit_code == 0
    sdk = stripe.StripeClient("sk_test_two_instances", base_addresses={"api": standin_url})
    customer = sdk.v1.customers.create({"email": "ada@example.com"})
    with app.app_context():
        user = BillingAccount(owner_id="ada@example.com", email="ada@example.com", stripe_customer_id=customer.id)
        db.session.add(user)
        db.session.commit()

    instances = [start_instance(env), start_instance(env)]
    try:
        for n in range(15):
            body = event_body("customer.updated", {"id": customer.id, "object": "customer"}, f"evt_two_instances_{n}")
            header = stripe.WebhookSignature.generate_signature_header(body, SECRET, int(time.time()))
            results: list[str] = []
            barrier = threading.Barrier(2)
            threads = [
                threading.Thread(target=post, args=(url, body, header, results, barrier)) for _, url in instances
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert sorted(results) == ["duplicate", "recorded"], (n, results)
    finally:
        for process, _ in instances:
            process.terminate()
            process.wait(10)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(StripeEvent)) == 15
        assert db.session.scalar(db.select(BillingAccount)).profile is not None  # the event was applied
