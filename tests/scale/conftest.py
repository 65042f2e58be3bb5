"""The site as it runs for real at scale: on PostgreSQL (TEST_DATABASE_URL), and as several
instances sharing one PostgreSQL and one Redis (TEST_REDIS_URL). `.ci/run` starts both
(`.ci/postgres`, `.ci/redis`) and sets SCALE_REQUIRED=1, so there these tests run on the
suite's PostgreSQL pass; locally, without those URLs, they are skipped. On the suite's
SQLite pass (no TEST_DATABASE_URL) they are always skipped: they are about PostgreSQL."""

from __future__ import annotations

import os

import pytest

from tests.helpers import TEST_DATABASE_URL

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")


@pytest.fixture
def postgres_url():
    """The test PostgreSQL server's URL (the suite's PostgreSQL pass only)."""
    if not TEST_DATABASE_URL.startswith("postgresql"):
        pytest.skip("runs on PostgreSQL only: set TEST_DATABASE_URL=postgresql+psycopg://... (.ci/postgres)")
    return TEST_DATABASE_URL


@pytest.fixture
def redis_url(postgres_url):
    """The test Redis server's URL; on PostgreSQL in CI (SCALE_REQUIRED=1) its absence is a failure."""
    if not TEST_REDIS_URL:
        if os.environ.get("SCALE_REQUIRED") == "1":
            pytest.fail("SCALE_REQUIRED=1 but TEST_REDIS_URL is not set (.ci/redis starts one)")
        pytest.skip("needs a Redis server: set TEST_REDIS_URL=redis://... (.ci/redis)")
    return TEST_REDIS_URL
