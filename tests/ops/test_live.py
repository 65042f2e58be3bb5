"""`flask stripe setup` and `doctor` against Stripe's test mode. Opt-in, like
tests/core/test_live.py: `STRIPE_SECRET_KEY=sk_test_... .venv/bin/pytest -m live`."""

from __future__ import annotations

import pytest

from tests.helpers import LIVE

pytestmark = [pytest.mark.live, LIVE]


def test_setup_then_doctor_against_test_mode(live_app):
    """Setup is a no-op the second time, and doctor is clean (a webhook secret
    aside, which a test run need not have)."""
    runner = live_app.test_cli_runner()
    setup = runner.invoke(args=["stripe", "setup"])
    assert setup.exit_code == 0, setup.output
    assert "nothing changed" in setup.output

    doctor = runner.invoke(args=["stripe", "doctor"])
    problems = [line for line in doctor.output.splitlines() if "PROBLEM" in line]
    assert all("STRIPE_WEBHOOK_SECRET" in line for line in problems), doctor.output
