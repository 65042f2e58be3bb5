"""The site as N stateless instances: two server processes on one PostgreSQL database
and one Redis, behind one (pretend) load balancer. Sessions are signed cookies, so a
session begun on one instance is good on the other; sign-in attempts are counted in
Redis (RATELIMIT_STORAGE_URI), so the limits hold across instances as on one; a webhook
event delivered to either instance, or to both at once, is applied once.

Real processes, not two apps in this one: Flask-Limiter's `limiter` is one object per
process, so two apps in one process would share its counts whatever the store."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
import sqlalchemy
import stripe

from app import create_app
from billing.accounts import User
from billing.models import BillingAccount, BillingProfile, StripeEvent, db
from tests.helpers import TEST_CATALOG, database_url, event_body, free_port

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk_test_scale_instances"
SECRET = "whsec_scale_instances"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def instance_settings(standin_url, db_url, ratelimit_storage_uri=None):
    """What every instance is given, the same on all (docs/serving.md, "N instances")."""
    env = {
        "STRIPE_SECRET_KEY": KEY,
        "STRIPE_API_BASE": standin_url,
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "APP_BASE_URL": "http://localhost",
        "SECRET_KEY": "scale-test-secret-key-the-same-on-every-instance",
        "DATABASE_URL": db_url,
        "CATALOG_PATH": TEST_CATALOG,
        "DEMO_PERSONAS": "off",
        # Behind a load balancer: the client's address is the one it forwards.
        "TRUSTED_PROXIES": "1",
        # Each instance applies its events before answering, so these tests read the result
        # at once (the storm test runs the real thing: a Redis queue and worker processes).
        "QUEUE_URL": "immediate",
    }
    if ratelimit_storage_uri:
        env["RATELIMIT_STORAGE_URI"] = ratelimit_storage_uri
    return env


class Instance:
    """One server process (`flask run`, threaded) on a loopback port."""

    def __init__(self, env, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(self.port)],
                cwd=ROOT,
                env={"PATH": os.environ.get("PATH", ""), **env},
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/signin", timeout=2).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.2)
        self.stop()
        raise AssertionError(f"the instance did not start: {log.read_text()[-2000:]}")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def send(opener, url, data=None, headers=None):
    """(status, body) of one request; 4xx and 5xx are answers too."""
    body = None if data is None else urllib.parse.urlencode(data).encode()
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """One visitor's cookie jar, used on every instance (the load balancer may send each
    request anywhere): the session cookie from one instance is good on the others."""

    def __init__(self):
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect())
        self.token = None

    def csrf(self, instance):
        status, page = send(self.opener, instance.url + "/signin")
        assert status == 200
        match = CSRF.search(page)
        assert match
        self.token = match.group(1)

    def sign_in(self, instance, email, password, address):
        return send(
            self.opener,
            instance.url + "/signin",
            {"csrf_token": self.token, "email": email, "password": password},
            {"X-Forwarded-For": address},
        )[0]


@pytest.fixture
def shared(tmp_path, standin_url, postgres_url):
    """One PostgreSQL database, migrated, and the stand-in's account set up (once per deploy);
    start(n, store) starts n instances over it, counting attempts in `store`."""
    db_url = database_url(tmp_path, "shared")
    started: list[Instance] = []

    def start(n, store=None):
        env = instance_settings(standin_url, db_url, store)
        app = create_app({"TESTING": True, **env})
        if not started:
            runner = app.test_cli_runner()
            assert runner.invoke(args=["init-db"]).exit_code == 0
            assert runner.invoke(args=["stripe", "setup"]).exit_code == 0
        instances = [Instance(env, tmp_path / f"instance{len(started) + k}.log") for k in range(n)]
        started.extend(instances)
        return app, instances

    yield start
    for instance in started:
        instance.stop()


def unique_address():
    """A client address no other run has used, so counts left in a long-lived Redis from an
    earlier run cannot touch this one (the per-address limit counts for an hour)."""
    n = uuid.uuid4().int
    return f"10.{n % 250 + 1}.{(n >> 8) % 250 + 1}.{(n >> 16) % 250 + 1}"


def unique_email():
    return f"ada-{uuid.uuid4().hex[:12]}@example.com"


def first_limited(statuses):
    """The attempt (1-based) the limit stopped, after only wrong-password answers before it."""
    assert 429 in statuses, statuses
    n = statuses.index(429)
    assert statuses[:n] == [400] * n, statuses
    return n + 1


def test_the_sign_in_limit_per_address_holds_across_instances(redis_url, shared):
    _, (a, b) = shared(2, redis_url)
    visitor = Browser()
    visitor.csrf(a)
    # On one instance: 10 wrong passwords a minute from one address, then 429.
    one = unique_address()
    alone = [visitor.sign_in(a, unique_email(), "wrong guess", one) for _ in range(11)]
    assert first_limited(alone) == 11
    # The same 11, from another address, spread over both: limited at the same attempt.
    spread_from = unique_address()
    spread = [visitor.sign_in((a, b)[n % 2], unique_email(), "wrong guess", spread_from) for n in range(11)]
    assert first_limited(spread) == 11
    # And it stays limited on either instance.
    assert visitor.sign_in(b, unique_email(), "wrong guess", spread_from) == 429
    assert visitor.sign_in(a, unique_email(), "wrong guess", spread_from) == 429


def test_the_sign_in_limit_per_account_holds_across_instances(redis_url, shared):
    _, (a, b) = shared(2, redis_url)
    visitor = Browser()
    visitor.csrf(b)
    email = unique_email()
    # 20 wrong passwords an hour for one account, each from a new address, spread over both.
    statuses = [visitor.sign_in((a, b)[n % 2], email, "wrong guess", unique_address()) for n in range(21)]
    assert first_limited(statuses) == 21
    assert visitor.sign_in(a, email.upper(), "wrong guess", unique_address()) == 429
    # Another account is not affected.
    assert visitor.sign_in(b, unique_email(), "wrong guess", unique_address()) == 400


def test_without_a_shared_store_each_instance_counts_alone(shared):
    """Why RATELIMIT_STORAGE_URI must point at a shared store with several instances (and
    that the tests above would notice if the counts were not shared)."""
    _, (a, b) = shared(2)  # memory://, one count per process
    visitor = Browser()
    visitor.csrf(a)
    address = unique_address()
    statuses = [visitor.sign_in((a, b)[n % 2], unique_email(), "wrong guess", address) for n in range(11)]
    assert statuses == [400] * 11


def signed_event(event_id, customer):
    body = event_body("customer.updated", {"id": customer, "object": "customer"}, event_id)
    return body, stripe.WebhookSignature.generate_signature_header(body, SECRET, int(time.time()))


def deliver(instance, event):
    body, header = event
    request = urllib.request.Request(
        instance.url + "/stripe/webhook",
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Stripe-Signature": header},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["outcome"]


def deliver_at_once(instances, event):
    outcomes: list[str] = []
    barrier = threading.Barrier(len(instances))

    def post(instance):
        barrier.wait()
        outcomes.append(deliver(instance, event))

    threads = [threading.Thread(target=post, args=(instance,)) for instance in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return sorted(outcomes)


def test_a_webhook_delivered_to_either_instance_is_applied_once(redis_url, shared, standin_url):
    app, (a, b) = shared(2, redis_url)
    sdk = stripe.StripeClient(KEY, base_addresses={"api": standin_url})
    customer = sdk.v1.customers.create({"email": "ada@example.com", "name": "Ada 0"})
    with app.app_context():
        user = BillingAccount(owner_id="ada@example.com", email="ada@example.com", stripe_customer_id=customer.id)
        db.session.add(user)
        db.session.commit()

    def mirrored_name():
        with app.app_context():
            return db.session.scalar(db.select(BillingProfile.name))

    def recorded(event_id):
        with app.app_context():
            return db.session.scalar(db.select(db.func.count()).where(StripeEvent.id == event_id))

    # To A, then the same event again to B (Stripe's retry landing elsewhere): B applies nothing,
    # so it does not re-read the customer, renamed on Stripe's side in between.
    event = signed_event("evt_scale_0", customer.id)
    assert deliver(a, event) == "recorded"
    assert mirrored_name() == "Ada 0"
    sdk.v1.customers.update(customer.id, {"name": "Ada renamed, not by this event"})
    assert deliver(b, event) == "duplicate"
    assert deliver(a, event) == "duplicate"
    assert mirrored_name() == "Ada 0"
    assert recorded("evt_scale_0") == 1

    # To both at the same moment: one applies it, the other finds it applied.
    for n in range(1, 9):
        sdk.v1.customers.update(customer.id, {"name": f"Ada {n}"})
        event = signed_event(f"evt_scale_{n}", customer.id)
        assert deliver_at_once([a, b], event) == ["duplicate", "recorded"], n
        assert recorded(f"evt_scale_{n}") == 1
        assert mirrored_name() == f"Ada {n}"
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(StripeEvent)) == 9
        assert db.session.scalar(db.select(db.func.count()).select_from(BillingProfile)) == 1


def test_a_change_applied_by_one_instance_shows_on_the_others_pages_at_once(redis_url, shared, standin_url):
    """No instance keeps a rendered page: a change applied by another instance, or made by
    hand in the database, is on the next page any instance serves."""
    app, (a, b) = shared(2, redis_url)
    sdk = stripe.StripeClient(KEY, base_addresses={"api": standin_url})
    email = unique_email()
    customer = sdk.v1.customers.create({"email": email, "name": "Before"})
    with app.app_context():
        # A user of the site's sign-in, who signs in below, and the billing account they own.
        user = User(email=email)
        user.set_password("correct horse")
        db.session.add(user)
        db.session.flush()
        db.session.add(BillingAccount(owner_id=str(user.id), email=email, stripe_customer_id=customer.id))
        db.session.commit()
    visitor = Browser()
    visitor.csrf(a)
    assert visitor.sign_in(a, email, "correct horse", unique_address()) == 303
    deliver(b, signed_event(f"evt_scale_page_{uuid.uuid4().hex}", customer.id))
    for _ in range(2):
        assert "Before" in send(visitor.opener, a.url + "/account")[1]
    # A change that no commit of the site announces (by hand, in psql): shown at once.
    by_hand = sqlalchemy.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with by_hand.begin() as connection:
        connection.execute(sqlalchemy.update(BillingProfile.__table__).values(name="By hand"))
    by_hand.dispose()
    assert "By hand" in send(visitor.opener, a.url + "/account")[1]

    sdk.v1.customers.update(customer.id, {"name": "After"})
    assert deliver(b, signed_event(f"evt_scale_page_{uuid.uuid4().hex}", customer.id)) == "recorded"
    status, page = send(visitor.opener, a.url + "/account")
    assert status == 200 and "After" in page and "Before" not in page and "By hand" not in page
