"""A busy Stripe: the rate limit (Stripe's 429 past a token bucket), `latency` without
a lock held, and the stand-in's count of the calls it answered (`/_standin/stats`)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import stripe
from werkzeug.test import Client

from standin import StandIn, server
from standin.limits import TokenBucket

AUTH = {"Authorization": "Bearer sk_test_x"}


def test_past_the_limit_stripe_answers_429_rate_limit(stand_in, client):
    stand_in.rate_limit = 3
    for _ in range(3):
        client.v1.customers.list()
    with pytest.raises(stripe.RateLimitError) as caught:
        client.v1.customers.list()
    error = caught.value
    assert error.http_status == 429
    assert error.error is not None
    assert (error.error.type, error.error.code) == ("invalid_request_error", "rate_limit")
    assert error.error.message == (
        "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests."
    )
    assert error.error.doc_url == "https://stripe.com/docs/error-codes/rate-limit"
    assert error.headers is not None and "Stripe-Should-Retry" not in error.headers
    assert error.headers["Request-Id"].startswith("req_")
    # No Stripe-Should-Retry, so the SDK (max_network_retries=2 here) does not retry a 429.
    assert stand_in.stats()["total"] == 4


def test_the_bucket_refills_at_the_rate():
    now = [100.0]
    bucket = TokenBucket(25, clock=lambda: now[0])
    assert sum(bucket.take() for _ in range(30)) == 25  # a burst up to the capacity
    now[0] += 0.2  # 5 tokens back
    assert sum(bucket.take() for _ in range(10)) == 5
    now[0] += 60  # never more than the capacity
    assert sum(bucket.take() for _ in range(30)) == 25


@pytest.mark.parametrize("rate", [0, -1, float("inf"), float("nan")])
def test_a_rate_limit_is_a_positive_rate(rate):
    with pytest.raises(ValueError):
        TokenBucket(rate)


def test_the_limit_is_shared_by_every_connection_and_refused_calls_change_nothing(stand_in):
    stand_in.rate_limit = 10
    results: list[int] = []

    def create(n: int) -> None:
        response = Client(stand_in.wsgi_app).post("/v1/customers", data={"name": f"c{n}"}, headers=AUTH)
        results.append(response.status_code)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    admitted = results.count(200)
    # 10 in the burst, plus what refilled while the 40 ran (well under a second).
    assert 10 <= admitted <= 15 and results.count(429) == 40 - admitted
    assert len(stand_in.state.objects.ids_of("customer")) == admitted
    assert stand_in.stats()["rate_limited"] == 40 - admitted


def test_pages_and_stats_are_not_rate_limited(stand_in):
    stand_in.rate_limit = 1
    web = Client(stand_in.wsgi_app)
    assert web.get("/v1/customers", headers=AUTH).status_code == 200
    assert web.get("/v1/customers", headers=AUTH).status_code == 429
    assert web.get("/p/session/bps_missing").status_code == 404  # a hosted page: its own answer
    assert web.get("/_standin/stats").status_code == 200


def test_rate_limit_can_be_set_when_made_and_lifted():
    stand_in = StandIn(rate_limit=1)
    web = Client(stand_in.wsgi_app)
    assert [web.get("/v1/customers", headers=AUTH).status_code for _ in range(2)] == [200, 429]
    stand_in.rate_limit = None
    assert [web.get("/v1/customers", headers=AUTH).status_code for _ in range(3)] == [200] * 3


def timed_calls(stand_in: StandIn, clients: int, calls: int) -> float:
    """Seconds for `clients` threads, each making `calls` API requests (a write, then reads)."""
    barrier = threading.Barrier(clients)
    statuses: list[int] = []

    def run(n: int) -> None:
        web = Client(stand_in.wsgi_app)
        barrier.wait()
        for call in range(calls):
            if call == 0:
                response = web.post("/v1/customers", data={"name": f"c{n}"}, headers=AUTH)
            else:
                response = web.get("/v1/customers", query_string={"limit": 3}, headers=AUTH)
            statuses.append(response.status_code)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * clients * calls
    return time.perf_counter() - started


def test_latency_holds_no_lock_16_clients_wait_at_once(stand_in, monkeypatch):
    """The latency sleep is outside the state's lock (and the bucket's): 16 clients are all
    inside it at once. The sleep is a barrier of 16, so a lock held around it breaks the
    barrier (a timeout) instead of making a timing that a busy machine can also miss."""
    waiting = threading.Barrier(16)
    monkeypatch.setattr(server.time, "sleep", lambda seconds: waiting.wait(timeout=10))
    stand_in.latency = 0.15
    stand_in.rate_limit = 10_000  # the bucket is on the path, but never the bottleneck
    timed_calls(stand_in, 16, 2)  # a write, then a read: each kind waits outside the lock
    assert not waiting.broken


def test_a_429_takes_the_latency_too(stand_in):
    stand_in.rate_limit = 1
    stand_in.latency = 0.1
    web = Client(stand_in.wsgi_app)
    web.get("/v1/customers", headers=AUTH)
    started = time.perf_counter()
    assert web.get("/v1/customers", headers=AUTH).status_code == 429
    assert time.perf_counter() - started >= 0.1


def stats(web: Client) -> Any:
    response = web.get("/_standin/stats")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return json.loads(response.get_data(as_text=True))


def test_stats_count_calls_by_route_with_ids_left_out(stand_in, client, subscribed):
    web = Client(stand_in.wsgi_app)
    web.post("/_standin/stats/reset")
    customer, subscription = subscribed
    stand_in.rate_limit = 3
    client.v1.customers.retrieve(customer.id)
    client.v1.subscriptions.retrieve(subscription.id)
    client.v1.subscriptions.list({"customer": customer.id})
    with pytest.raises(stripe.RateLimitError):
        client.v1.customers.retrieve(customer.id)
    web.get("/v1/nothing_here", headers=AUTH)
    counted = stats(web)
    assert counted["requests"] == {
        "GET (unrecognized URL)": 1,
        "GET /v1/customers/{id}": 2,
        "GET /v1/subscriptions": 1,
        "GET /v1/subscriptions/{id}": 1,
    }
    assert counted["rate_limited_requests"] == {"GET (unrecognized URL)": 1, "GET /v1/customers/{id}": 1}
    assert (counted["total"], counted["rate_limited"]) == (5, 2)
    assert (counted["rate_limit"], counted["latency"]) == (3, 0)
    assert counted["since"] <= time.time()


def test_stats_reset_starts_the_count_again(stand_in, client):
    web = Client(stand_in.wsgi_app)
    client.v1.customers.create({"name": "Ada"})
    assert stats(web)["requests"] == {"POST /v1/customers": 1}
    response = web.post("/_standin/stats/reset")
    assert response.status_code == 200
    assert json.loads(response.get_data(as_text=True))["total"] == 0
    assert stats(web)["requests"] == {} and stand_in.stats()["total"] == 0


def test_stats_answer_only_their_own_methods(stand_in):
    web = Client(stand_in.wsgi_app)
    assert web.post("/_standin/stats").status_code == 405
    assert web.get("/_standin/stats/reset").status_code == 405
    assert web.get("/_standin/stats/other").status_code == 404


def test_the_limits_are_turned_while_it_runs(stand_in):
    """A benchmark seeds at full speed, then makes Stripe slow and limited (`/_standin/limits`)."""
    web = Client(stand_in.wsgi_app)
    assert json.loads(web.get("/_standin/limits").get_data()) == {"latency": 0.0, "rate_limit": None}
    response = web.post("/_standin/limits", data={"latency": "0.05", "rate_limit": "2"})
    assert json.loads(response.get_data()) == {"latency": 0.05, "rate_limit": 2.0}
    assert [web.get("/v1/customers", headers=AUTH).status_code for _ in range(3)] == [200, 200, 429]
    web.post("/_standin/limits", data={"latency": "0", "rate_limit": ""})
    assert (stand_in.latency, stand_in.rate_limit) == (0.0, None)
    for wrong in ({"latency": "-1"}, {"rate_limit": "0"}, {"latency": "soon"}):
        assert web.post("/_standin/limits", data=wrong).status_code == 400
    assert web.put("/_standin/limits").status_code == 405
