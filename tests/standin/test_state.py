"""Persistence: with a state file, a demo survives a restart."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import stripe

from standin import StandIn
from standin.state import FORMAT_VERSION


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


def test_two_stand_ins_on_one_state_file_see_each_others_changes(tmp_path: Path) -> None:
    """A server and a `flask demo reset` beside it, or two gunicorn workers: the file is the truth."""
    path = tmp_path / "stripe.json"
    server, other = StandIn(state_file=path), StandIn(state_file=path)
    made_by_other = sdk(other).v1.customers.create({"email": "other@example.com"})
    assert sdk(server).v1.customers.retrieve(made_by_other.id).email == "other@example.com"
    made_by_server = sdk(server).v1.customers.create({"email": "server@example.com"})
    sdk(other).v1.customers.delete(made_by_other.id)
    # Neither one's save overwrote the other's change.
    emails = {c.email for c in sdk(server).v1.customers.list().data}
    assert emails == {"server@example.com"}
    assert set(json.loads(path.read_text())["objects"]) >= {made_by_server.id}


def test_a_request_with_no_outside_change_does_not_read_the_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "stripe.json"
    stand_in = StandIn(state_file=path)
    customer = sdk(stand_in).v1.customers.create({"email": "a@example.com"})
    reads = []
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: reads.append(self) or "")
    assert sdk(stand_in).v1.customers.retrieve(customer.id).email == "a@example.com"
    sdk(stand_in).v1.customers.update(customer.id, {"name": "A"})
    assert reads == []


@pytest.mark.parametrize(
    "content",
    [
        json.dumps({"objects": {}, "idempotency": {}}),  # an older stand-in's, with no version
        json.dumps({"version": FORMAT_VERSION + 1, "objects": {}, "idempotency": {}}),
        '{"objects": {"cus_1": ',  # cut short
        "[1, 2, 3]",
    ],
    ids=["no version", "another version", "unreadable", "not an object"],
)
def test_a_state_file_it_cannot_read_is_set_aside_with_a_warning(tmp_path: Path, caplog, content) -> None:
    path = tmp_path / "standin-state.json"
    path.write_text(content)
    with caplog.at_level(logging.WARNING, logger="standin.state"):
        stand_in = StandIn(state_file=path)
    assert stand_in.state.fresh and stand_in.state.objects == {}
    assert (tmp_path / "standin-state.json.old").read_text() == content
    [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "moved to" in warning.getMessage() and str(path) in warning.getMessage()
    assert warning.exc_info is None  # a message, not a traceback
    customer = sdk(stand_in).v1.customers.create({"email": "a@example.com"})
    assert json.loads(path.read_text())["version"] == FORMAT_VERSION
    assert StandIn(state_file=path).state.get(customer.id, "customer") is not None
