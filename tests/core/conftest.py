"""Fixtures the core's test modules share (the app, client and auth are in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def subscriber(auth):
    """A signed-up customer on Starter, monthly, paid through Checkout."""
    auth.signup()
    auth.subscribe("starter_monthly")
    return auth
