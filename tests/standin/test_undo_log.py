"""A mutating request costs what it reaches: the state's undo log (`State.track`) keeps a
copy of each object a request reaches, events come from those alone, and a failed
request puts just those back."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

import pytest
import stripe
from werkzeug.test import Client

from standin import StandIn, effects, events
from tests.standin.conftest import make_catalog, subscribe


def sdk(stand_in: StandIn) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_x",
        http_client=stand_in.http_client(),
        base_addresses={"api": "http://standin.test"},
        stripe_version="2026-10-28.endive",
    )


def capture_events(stand_in: StandIn) -> list[dict[str, Any]]:
    delivered: list[dict[str, Any]] = []

    def deliver(body: bytes, headers: dict[str, str]) -> int:
        delivered.append(json.loads(body))
        return 200

    stand_in.configure_webhooks("whsec_test", deliver=deliver)
    return delivered


def test_a_mutation_copies_only_the_objects_it_reaches(client: stripe.StripeClient, stand_in: StandIn) -> None:
    catalog = make_catalog(client)
    customer = client.v1.customers.create({"email": "ada@example.com"})

    def session_journal() -> tuple[set[str], int, str]:
        session = client.v1.billing_portal.sessions.create({"customer": customer.id})
        journal = stand_in.state.last_journal
        assert journal is not None
        return set(journal.before), journal.copies, session.id

    touched, copies, session_id = session_journal()
    assert touched == {customer.id, catalog.configuration.id, session_id}
    assert copies == 2  # the customer and the configuration; the new session had nothing to copy

    # Two hundred more objects change nothing about what a request copies.
    for index in range(200):
        client.v1.customers.create({"email": f"user{index}@example.com"})
    touched, copies, session_id = session_journal()
    assert touched == {customer.id, catalog.configuration.id, session_id}
    assert copies == 2
    # GET requests keep no journal.
    client.v1.customers.retrieve(customer.id)
    assert stand_in.state.last_journal is not None and session_id in stand_in.state.last_journal.before


def test_in_place_changes_to_nested_fields_become_events(stand_in: StandIn) -> None:
    client = sdk(stand_in)
    delivered = capture_events(stand_in)
    customer = client.v1.customers.create({"email": "a@example.com", "metadata": {"plan": "basic"}})
    # set_metadata changes the stored customer's metadata dict in place.
    client.v1.customers.update(customer.id, {"metadata": {"plan": "pro"}, "address": {"city": "Paris"}})
    [updated] = [event for event in delivered if event["type"] == "customer.updated"]
    assert updated["data"]["object"]["metadata"] == {"plan": "pro"}
    assert updated["data"]["previous_attributes"]["metadata"] == {"plan": "basic"}
    assert updated["data"]["previous_attributes"]["address"]["city"] is None


def full_diff_wrapper(stand_in: StandIn, seen: list[tuple[str, str]]) -> Any:
    """Wrap the stand-in's WSGI app with the old mechanism (a deep copy of every object
    around each mutating request), recording the events it would have sent."""
    inner = stand_in.wsgi_app

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "GET":
            return inner(environ, start_response)
        before = copy.deepcopy(dict(stand_in.state.objects.items()))
        body = list(inner(environ, start_response))
        after = dict(stand_in.state.objects.items())
        seen.extend((e["type"], e["data"]["object"]["id"]) for e in events.changes(before, after))
        return body

    return app


def test_events_match_a_diff_of_the_whole_state(stand_in: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    expected: list[tuple[str, str]] = []
    monkeypatch.setattr(stand_in, "wsgi_app", full_diff_wrapper(stand_in, expected))
    delivered = capture_events(stand_in)
    client, web = sdk(stand_in), Client(stand_in.wsgi_app)
    catalog = make_catalog(client)
    customer, sub = subscribe(client, web, catalog.basic.id)
    client.v1.subscriptions.update(sub.id, {"metadata": {"k": "v"}})
    client.v1.subscriptions.pause(sub.id)  # type: ignore[attr-defined]
    client.v1.subscriptions.resume(sub.id)
    client.v1.customers.update(customer.id, {"name": "Ada L"})
    client.v1.subscriptions.cancel(sub.id)
    client.v1.customers.delete(customer.id)
    got = [(event["type"], event["data"]["object"]["id"]) for event in delivered]
    assert got == expected
    assert {"customer.subscription.created", "customer.subscription.paused", "customer.deleted"} <= {t for t, _ in got}


def test_a_failed_request_leaves_the_state_exactly_as_before(
    client: stripe.StripeClient, stand_in: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = make_catalog(client)
    delivered = capture_events(stand_in)
    before = copy.deepcopy(dict(stand_in.state.objects.items()))
    held = stand_in.state.objects[catalog.configuration.id]  # as a test holds a stored object
    # The handler sets `name` before it finds the features invalid (400).
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.billing_portal.configurations.update(
            catalog.configuration.id,
            {"name": "Renamed", "features": {"payment_method_update": {"enabled": False}}},
        )
    assert dict(stand_in.state.objects.items()) == before
    assert stand_in.state.objects[catalog.configuration.id] is held and held["name"] is None
    assert delivered == []

    # A hosted page that breaks half-way (a 500) is undone too, new objects included.
    web = Client(stand_in.wsgi_app)
    customer, sub = subscribe(client, web, catalog.basic.id)
    before = copy.deepcopy(dict(stand_in.state.objects.items()))
    delivered.clear()

    def broken_pause(subscription: dict[str, Any]) -> dict[str, Any]:
        subscription["status"] = "paused"
        stand_in.state.add({"id": "evt_stray", "object": "note"})
        raise RuntimeError("boom")

    monkeypatch.setattr(effects, "pause", broken_pause)
    session = client.v1.billing_portal.sessions.create(
        {
            "customer": customer.id,
            "flow_data": {"type": "subscription_pause", "subscription_pause": {"subscription": sub.id}},
        }
    )
    response = web.post(session.url.removeprefix("http://site.test/_standin"))
    assert response.status_code == 500
    after = dict(stand_in.state.objects.items())
    assert after.pop(session.id)["object"] == "billing_portal.session"  # made by the request before
    assert after == before and delivered == []
    assert stand_in.state.all("note") == []


def test_the_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from standin import bench

    first, last = bench.run(sessions=30, window=10)
    assert first > 0 and last > 0
    bench.main(["--sessions", "20", "--window", "5"])
    assert "ratio last/first" in capsys.readouterr().out
