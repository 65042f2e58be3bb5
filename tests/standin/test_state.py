"""Persistence: with a state file, a demo survives a restart."""

from __future__ import annotations

import json
from pathlib import Path

import stripe

from standin import StandIn


def sdk(stand_in: StandIn) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_x", http_client=stand_in.http_client(), base_addresses={"api": "http://standin.test"}
    )


def test_state_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "stripe.json"
    first = StandIn(state_file=path)
    customer = sdk(first).v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "k"})
    assert json.loads(path.read_text())["objects"][customer.id]["email"] == "a@example.com"
    assert not list(tmp_path.glob("*.tmp"))  # written atomically, nothing left behind

    second = StandIn(state_file=path)
    assert sdk(second).v1.customers.retrieve(customer.id).email == "a@example.com"
    # The idempotency store survives too: a retry after the restart is a replay.
    assert sdk(second).v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "k"}).id == customer.id
    assert len(second.state.all("customer")) == 1
