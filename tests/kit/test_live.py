"""Demo personas against Stripe's test mode. Opt-in, like tests/core/test_live.py:
`STRIPE_SECRET_KEY=sk_test_... .venv/bin/pytest -m live`."""

from __future__ import annotations

import pytest

from billing.models import BillingAccount, db
from kit.personas import PERSONAS
from tests.helpers import LIVE

pytestmark = [pytest.mark.live, LIVE]


def test_seed_then_reset_personas_against_test_mode(live_app):
    """Seed makes every persona in its state (a test clock plays out the past-due
    one), and reset removes them again."""
    runner = live_app.test_cli_runner()
    try:
        seed = runner.invoke(args=["demo", "seed"])
        assert seed.exit_code == 0, seed.output
        with live_app.app_context():
            statuses = {
                p.key: (user.subscription.status if user.subscription else None)
                for p in PERSONAS
                if (user := db.session.scalar(db.select(BillingAccount).where(BillingAccount.email == p.email)))
            }
        assert statuses["past-due"] == "past_due" and statuses["paused"] == "paused", statuses
    finally:
        reset = runner.invoke(args=["demo", "reset"])
        assert reset.exit_code == 0, reset.output
