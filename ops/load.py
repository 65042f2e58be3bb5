"""A bounded load test on loopback: the site under gunicorn (several workers,
one shared database), a Stripe stand-in on its own port, and N keep-alive
connections for S seconds on the pricing page, the account page and a flow
route (Manage billing: one portal session per press). Prints figures; exits 1
on any error.

    .venv/bin/python -m ops.load                    # 50 connections, 60 s, 4 workers
    .venv/bin/python -m ops.load --connections 20 --seconds 10

The connections share a few customers, each signed up and subscribed through
Checkout (on the stand-in's hosted page) before the clock starts.

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
# The plans of the customers the connections share (one customer each).
PLANS = ["starter_monthly", "pro_monthly", "business_monthly", "starter_yearly", "pro_yearly", "business_yearly"]


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

    def __init__(self, port: int, cookies: dict[str, str] | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = dict(cookies or {})
        self.location = ""

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode()
        self.location = response.getheader("Location") or ""
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response.status, text

    def token(self, path: str) -> str:
        status, page = self.request("GET", path)
        found = CSRF.search(page)
        assert status == 200 and found, f"no CSRF token on {path} ({status})"
        return found.group(1)


def subscribed_customer(port: int, n: int, plan: str) -> tuple[dict[str, str], str]:
    """Sign up, subscribe to `plan` through Checkout (paying on the stand-in's hosted
    page, as a browser would), come back; the session's cookies and a CSRF token."""
    visitor = Visitor(port)
    password = "load-test-password"
    form = {"email": f"load{n}@example.com", "password": password, "confirm": password}
    status, _ = visitor.request("POST", "/signup", {"csrf_token": visitor.token("/signup"), **form})
    assert status == 303, f"sign-up answered {status}"
    status, _ = visitor.request("POST", "/checkout", {"csrf_token": visitor.token("/account"), "lookup_key": plan})
    assert status == 303, f"Checkout answered {status}"
    hosted = urllib.parse.urlsplit(visitor.location)
    stripe_page = http.client.HTTPConnection(hosted.hostname or "127.0.0.1", hosted.port, timeout=30)
    stripe_page.request("POST", hosted.path, body=b"", headers={"Content-Type": "application/x-www-form-urlencoded"})
    paid = stripe_page.getresponse()
    paid.read()
    back = urllib.parse.urlsplit(paid.getheader("Location") or "")
    status, _ = visitor.request("GET", f"{back.path}?{back.query}")
    assert status == 303, f"the return from Checkout answered {status}"
    return visitor.cookies, visitor.token("/account")


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
        for command in (["init-db"], ["stripe", "setup"]):
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
        customers = [subscribed_customer(site_port, n, plan) for n, plan in enumerate(PLANS)]
        run(site_port, customers, args.connections, args.seconds, args.workers)
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)


def run(port: int, customers: list[tuple[dict[str, str], str]], connections: int, seconds: float, workers: int) -> None:
    timings: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    routes = ["pricing", "account", "flow"]

    def visit(n: int) -> None:
        cookies, token = customers[n % len(customers)]
        visitor = Visitor(port, cookies)
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
                visitor = Visitor(port, cookies)
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
