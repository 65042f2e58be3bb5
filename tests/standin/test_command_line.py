"""`python -m standin`: its options, and `--latency`, a slow Stripe on its own port."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest
from werkzeug.test import Client

import standin.__main__ as command


def test_help_lists_every_option():
    out = subprocess.run([sys.executable, "-m", "standin", "--help"], capture_output=True, text=True, check=True).stdout
    for option in ("--port", "--host", "--public-url", "--state-file", "--webhook-url", "--latency", "--rate-limit"):
        assert option in out, option


def served(monkeypatch: pytest.MonkeyPatch, *argv: str) -> Any:
    """The WSGI app `python -m standin ARGV` would serve, without serving it."""
    apps: list[Any] = []
    monkeypatch.setattr(command, "run_simple", lambda host, port, app, **kw: apps.append(app))
    command.main(list(argv))
    return apps[0]


def answer_seconds(app: Any, path: str) -> tuple[int, float]:
    started = time.perf_counter()
    response = Client(app).get(path, headers={"Authorization": "Bearer sk_test_x"})
    return response.status_code, time.perf_counter() - started


def test_latency_delays_each_api_answer(monkeypatch):
    app = served(monkeypatch, "--port", "0", "--latency", "0.2")
    status, seconds = answer_seconds(app, "/v1/customers")
    assert status == 200 and seconds >= 0.2
    assert app.__self__.latency == 0.2


def test_no_latency_by_default(monkeypatch):
    assert served(monkeypatch, "--port", "0").__self__.latency == 0


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "soon"])
def test_latency_must_be_seconds(monkeypatch, capsys, value):
    with pytest.raises(SystemExit):
        served(monkeypatch, "--latency", value)
    assert "--latency" in capsys.readouterr().err


def test_rate_limit_answers_429_past_the_bucket(monkeypatch):
    app = served(monkeypatch, "--port", "0", "--rate-limit", "2")
    assert app.__self__.rate_limit == 2
    statuses = [answer_seconds(app, "/v1/customers")[0] for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_no_rate_limit_by_default(monkeypatch):
    assert served(monkeypatch, "--port", "0").__self__.rate_limit is None


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "lots"])
def test_rate_limit_must_be_a_rate(monkeypatch, capsys, value):
    with pytest.raises(SystemExit):
        served(monkeypatch, "--rate-limit", value)
    assert "--rate-limit" in capsys.readouterr().err
