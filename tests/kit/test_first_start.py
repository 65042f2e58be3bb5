"""The README's first command on a fresh machine: `make run` is `flask init-db`
then `flask run`, offline, with an empty instance folder. The demo (catalog,
demo user, every persona) is made, then the stand-in's webhooks are delivered
to the site; a second start finds it all again."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from kit.offline import OFFLINE_STRIPE_KEY
from kit.personas import PERSONAS
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]


def start(instance: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "INSTANCE_PATH": str(instance),
        "APP_BASE_URL": f"http://127.0.0.1:{port}",
    }
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    subprocess.run([*flask, "init-db"], cwd=ROOT, env=env, check=True, capture_output=True)
    return subprocess.Popen(
        [*flask, "run", "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log.open("a")
    )


def get(url: str, process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(log.read_text()) from None
            time.sleep(0.2)


def test_a_fresh_start_serves_the_demo_and_a_restart_keeps_it(tmp_path):
    instance, log, port = tmp_path / "instance", tmp_path / "site.log", free_port()
    for attempt, persona in (("first start", "monthly"), ("restart", "yearly")):
        process = start(instance, port, log)
        try:
            page = get(f"http://127.0.0.1:{port}/", process, log)
            assert "Demo personas" in page and all(persona.name in page for persona in PERSONAS), attempt
            # The seed's events reached the site, though `flask init-db` seeded and ended:
            # the past-due persona's failed payment is in the Outbox.
            # (The background queue sends it, within a second or so of the site's start.)
            deadline = time.monotonic() + 15
            while "past-due@personas.example" not in (
                outbox := get(f"http://127.0.0.1:{port}/demo/outbox", process, log)
            ):
                assert time.monotonic() < deadline, attempt
                time.sleep(0.3)
            assert "/links/" in outbox, attempt
            # A change made in "Stripe" (the stand-in's API) reaches the site as a webhook
            # within a second or so: the delivery thread is running.
            rename_a_customer(port, persona, f"Renamed on {attempt}")
            time.sleep(2.5)
            assert process.poll() is None, attempt
        finally:
            process.terminate()
            process.wait(10)
    text = log.read_text()
    assert "Traceback" not in text and "ERROR" not in text, text
    assert (instance / "standin-state.json").exists()
    with sqlite3.connect(instance / "app.sqlite") as db:
        names = {name for (name,) in db.execute("select name from billing_profiles")}
        (events,) = db.execute("select count(*) from stripe_events where type = 'customer.updated'").fetchone()
    assert {"Renamed on first start", "Renamed on restart"} <= names and events >= 2


def rename_a_customer(port: int, persona: str, name: str) -> None:
    """POST /v1/customers/{id} on the offline stand-in, as a merchant's dashboard edit would."""
    api = f"http://127.0.0.1:{port}/_standin/v1/customers"
    auth = {"Authorization": f"Bearer {OFFLINE_STRIPE_KEY}"}
    with urllib.request.urlopen(urllib.request.Request(api + "?limit=100", headers=auth), timeout=5) as response:
        customers = json.load(response)["data"]
    customer = next(c for c in customers if c.get("metadata", {}).get("demo_persona") == persona)
    body = urllib.parse.urlencode({"name": name}).encode()
    urllib.request.urlopen(
        urllib.request.Request(f"{api}/{customer['id']}", data=body, headers=auth), timeout=5
    ).close()


def test_gunicorn_workers_on_an_empty_instance_start_one_at_a_time(tmp_path):
    """The README's serve command on a fresh checkout, without `flask init-db` first:
    three workers start at once, and only one at a time migrates and seeds."""
    instance, log, port = tmp_path / "instance", tmp_path / "site.log", free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "INSTANCE_PATH": str(instance),
        "APP_BASE_URL": f"http://127.0.0.1:{port}",
    }
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", "3"]
    command += ["--bind", f"127.0.0.1:{port}", "app:create_app()"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log.open("a"))
    try:
        pages = [get(f"http://127.0.0.1:{port}/", process, log) for _ in range(12)]  # reaches every worker
        assert all("Demo personas" in page for page in pages)
        assert process.poll() is None
    finally:
        process.terminate()
        process.wait(10)
    text = log.read_text()
    assert "Traceback" not in text and "IntegrityError" not in text and "Worker failed to boot" not in text, text
