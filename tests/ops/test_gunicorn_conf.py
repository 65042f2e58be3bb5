"""gunicorn.conf.py agrees with the site: its worker timeout outlasts the slowest request,
and each worker's database pool has a connection for every thread."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from billing.models import db
from billing.stripe_api import slowest_request_seconds

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


def conf(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, object]:
    for name in ("PORT", "WEB_CONCURRENCY", "STRIPE_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


@pytest.mark.parametrize("stripe_timeout", ["10", "30", "2.5", "1"])
def test_the_worker_timeout_outlasts_the_slowest_request(monkeypatch, stripe_timeout):
    settings = conf(monkeypatch, STRIPE_TIMEOUT=stripe_timeout)
    assert settings["timeout"] >= slowest_request_seconds(float(stripe_timeout))


@pytest.mark.parametrize("stripe_timeout", ["10", "30"])
def test_a_restart_lets_the_slowest_request_finish(monkeypatch, stripe_timeout):
    settings = conf(monkeypatch, STRIPE_TIMEOUT=stripe_timeout)
    assert settings["graceful_timeout"] >= slowest_request_seconds(float(stripe_timeout))


def test_the_default_timeout_is_above_a_minute(monkeypatch):
    # 63 s with the default STRIPE_TIMEOUT of 10 s: gunicorn's own default (30 s) would cut it.
    assert slowest_request_seconds(10) > 60
    assert conf(monkeypatch)["timeout"] > slowest_request_seconds(10)


def test_workers_serve_requests_in_threads(monkeypatch):
    settings = conf(monkeypatch, WEB_CONCURRENCY="3")
    assert settings["worker_class"] == "gthread"
    assert settings["workers"] == 3
    assert int(str(settings["threads"])) > 4  # more than a handful of slow clicks per worker


def test_each_thread_gets_a_database_connection(monkeypatch, app):
    threads = int(str(conf(monkeypatch)["threads"]))
    with app.app_context():
        pool = db.engine.pool
        size = pool.size() + max(getattr(pool, "_max_overflow", 0), 0)  # QueuePool: kept + opened on demand
    assert size >= threads, "raise SQLAlchemy's pool_size with gunicorn's threads"
