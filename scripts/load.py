"""A bounded load test on loopback: the site under gunicorn (several workers,
one shared database), a Stripe stand-in on its own port, and N keep-alive
connections for S seconds on the pricing page, the account page and a flow
route (Manage billing: one portal session per press). Prints figures; exits 1
on any error.

    .venv/bin/python scripts/load.py                    # 50 connections, 60 s, 4 workers
    .venv/bin/python scripts/load.py --connections 20 --seconds 10

Never points anywhere but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# Signed-in personas the connections share (made by `flask demo seed`).
PERSONAS = ["monthly", "yearly", "seats", "trialing", "cancel-scheduled", "paused"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not start")


class Visitor:
    """One keep-alive connection with its own cookie jar."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response.status, text

    def sign_in_as(self, persona: str) -> str:
        status, page = self.request("GET", "/")
        token = CSRF.search(page)
        assert status == 200 and token, "no CSRF token on /"
        status, _ = self.request("POST", "/demo/persona", {"csrf_token": token.group(1), "persona": persona})
        assert status == 303, f"persona sign-in answered {status}"
        status, page = self.request("GET", "/account")
        token = CSRF.search(page)
        assert status == 200 and token
        return token.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="load-"))
    standin_port, site_port = free_port(), free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "STRIPE_SECRET_KEY": "sk_test_load",
        "STRIPE_API_BASE": f"http://127.0.0.1:{standin_port}",
        "SECRET_KEY": "load-test-secret-key-0123456789",
        "APP_BASE_URL": f"http://127.0.0.1:{site_port}",
        "DATABASE_URL": os.environ.get("LOAD_DATABASE_URL", f"sqlite:///{tmp / 'load.sqlite'}"),
        "INSTANCE_PATH": str(tmp),
    }
    python = sys.executable
    processes: list[subprocess.Popen[bytes]] = []
    try:
        standin = subprocess.Popen(
            [python, "-m", "standin", "--port", str(standin_port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(standin)
        wait_for(standin_port, standin, "the stand-in")
        for command in (["init-db"], ["stripe", "setup"], ["demo", "seed"]):
            subprocess.run(
                [python, "-m", "flask", "--app", "app", *command], cwd=ROOT, env=env, check=True, capture_output=True
            )
        site = subprocess.Popen(
            # The project's gunicorn.conf.py (4 threads a worker, timeouts), on a loopback port.
            [
                python,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "--workers",
                str(args.workers),
                "--bind",
                f"127.0.0.1:{site_port}",
                "app:create_app()",
            ],
            cwd=ROOT,
            env=env,
        )
        processes.append(site)
        wait_for(site_port, site, "gunicorn")
        run(site_port, args.connections, args.seconds, args.workers)
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)


def run(port: int, connections: int, seconds: float, workers: int) -> None:
    timings: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    routes = ["pricing", "account", "flow"]

    def visit(n: int) -> None:
        visitor = Visitor(port)
        try:
            token = visitor.sign_in_as(PERSONAS[n % len(PERSONAS)])
        except Exception as e:  # noqa: BLE001 - counted and reported
            with lock:
                errors.append(f"sign-in: {e!r}")
            return
        i = n
        while time.monotonic() < stop:
            route = routes[i % len(routes)]
            i += 1
            started = time.perf_counter()
            try:
                if route == "pricing":
                    status, _ = visitor.request("GET", "/pricing")
                    ok = status == 200
                elif route == "account":
                    status, _ = visitor.request("GET", "/account")
                    ok = status == 200
                else:
                    status, _ = visitor.request("POST", "/account/billing", {"csrf_token": token})
                    ok = status == 303
            except Exception as e:  # noqa: BLE001 - counted and reported
                status, ok = 0, False
                visitor = Visitor(port)
                with lock:
                    errors.append(f"{route}: {e!r}")
            elapsed = time.perf_counter() - started
            with lock:
                timings[route].append(elapsed)
                if not ok and status:
                    errors.append(f"{route}: HTTP {status}")

    threads = [threading.Thread(target=visit, args=(n,)) for n in range(connections)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.monotonic() - began

    total = sum(len(t) for t in timings.values())
    print(f"{connections} connections, {took:.0f} s, gunicorn with {workers} workers on 127.0.0.1")
    print(f"{'route':10} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for route in routes:
        t = sorted(timings[route])
        if not t:
            continue
        q = statistics.quantiles(t, n=100) if len(t) > 1 else [t[0]] * 99
        ms = [q[49] * 1000, q[94] * 1000, q[98] * 1000, t[-1] * 1000]
        print(f"{route:10} {len(t):9d} {len(t) / took:8.1f} " + " ".join(f"{m:8.1f}" for m in ms))
    print(f"total      {total:9d} {total / took:8.1f}   errors: {len(errors)}")
    for error in sorted(set(errors))[:10]:
        print("  ", error)
    if errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
