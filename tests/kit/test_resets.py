"""Demo resets across processes: `flask demo reset` beside a running offline site
(the two share the instance folder: the SQLite database and the stand-in's state
file), and a state file from an older stand-in."""

from __future__ import annotations

import logging
import time

import pytest

from app import create_app
from billing.models import BillingAccount, db
from kit.personas import PERSONAS
from tests.helpers import BASE_URL, SECRET_KEY, Auth, csrf_token, local_path
from tests.kit.test_personas import EXPECTED, persona_states


def offline_app(instance):
    """The site in offline mode, its stand-in kept in instance/standin-state.json as `make run` keeps it."""
    return create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(instance),
            "APP_BASE_URL": BASE_URL,
            "SECRET_KEY": SECRET_KEY,
            "DATABASE_URL": f"sqlite:///{instance / 'app.sqlite'}",
            "OFFLINE_STATE_FILE": True,
        }
    )


@pytest.fixture
def server(tmp_path):
    app = offline_app(tmp_path / "instance")
    seeded = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert seeded.exit_code == 0, seeded.output
    return app


def test_flask_demo_reset_beside_the_running_site_puts_every_persona_back(server, tmp_path):
    client = server.test_client()
    auth = Auth(client, server)
    # An audience played with Mona on the site: she switched to Business.
    client.post("/demo/persona", data={"csrf_token": csrf_token(client, "/"), "persona": "monthly"})
    auth.email = "monthly@personas.example"
    client.post(local_path(auth.post("/account/switch-plan", lookup_key="business_monthly").headers["Location"]))
    client.get("/account/return")
    assert persona_states(auth)["monthly"] != EXPECTED["monthly"]

    # Another process (a terminal beside the server): the same instance folder.
    reset = offline_app(tmp_path / "instance").test_cli_runner().invoke(args=["demo", "reset"])
    assert reset.exit_code == 0, reset.output
    assert f"Removed {len(PERSONAS)} demo personas" in reset.output
    assert reset.output.count("  created  ") == len(PERSONAS)
    assert "Every persona is back in its starting state." in reset.output

    # The running site sees it, and every persona's buttons work there. The new personas'
    # events were recorded before the command ended, and the site's queue (a thread working
    # the instance's queue file) sends the failed payment's email a moment later.
    assert persona_states(auth) == EXPECTED
    deadline = time.monotonic() + 15
    while "past-due@personas.example" not in client.get("/demo/outbox").get_data(as_text=True):
        assert time.monotonic() < deadline, "the failed payment's email never reached the Outbox"
        time.sleep(0.2)
    for p in PERSONAS:
        client.post("/demo/persona", data={"csrf_token": csrf_token(client, "/"), "persona": p.key})
        billing = auth.post("/account/billing")
        assert billing.status_code == 303, (p.key, billing.get_data(as_text=True))
        assert "/_standin/p/session/bps_" in billing.headers["Location"], p.key
        assert "No such customer" not in client.get(local_path(billing.headers["Location"])).get_data(as_text=True)
    client.post("/demo/persona", data={"csrf_token": csrf_token(client, "/"), "persona": "monthly"})
    switch = auth.post("/account/switch-plan", lookup_key="business_monthly")
    assert "/_standin/p/session/bps_" in switch.headers["Location"]
    # A second seed from another process finds them all.
    again = offline_app(tmp_path / "instance").test_cli_runner().invoke(args=["demo", "seed"])
    assert again.output.count("exists ") == len(PERSONAS), again.output


def test_a_state_file_from_an_older_stand_in_is_set_aside_and_its_customers_forgotten(server, tmp_path, caplog):
    instance = tmp_path / "instance"
    state_file = instance / "standin-state.json"
    state_file.write_text('{"objects": {}, "idempotency": {}}')  # as an older version wrote it: no version
    with caplog.at_level(logging.WARNING):
        app = offline_app(instance)
    assert (instance / "standin-state.json.old").exists()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "could not be read" in warnings[0], warnings
    with app.app_context():
        customers = db.session.scalars(db.select(BillingAccount.stripe_customer_id)).all()
    assert customers and all(c is None for c in customers)  # they lived in the old file
    seeded = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert seeded.output.count("created") == len(PERSONAS), seeded.output
