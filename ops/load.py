"""A bounded load test on loopback: do pages stay fast while Stripe is slow?

The site under gunicorn with gunicorn.conf.py (one shared database), a Stripe
stand-in on its own port (`python -m standin --latency X`), then two phases of
the same length: Stripe answering at once, and Stripe answering in 2 s (in turn,
twice: fast, slow, fast, slow, so that other work on the machine weighs on both). In
each, 40 keep-alive connections load the pages (the pricing page signed out and
the account page signed in, in turn; pages never call Stripe) and 10 press a
button (Manage billing: a CSRF-checked POST that makes one Stripe call and
answers 303). Prints each phase's figures, then the page p95 with Stripe slow
over the page p95 with Stripe fast, against the goal (1.2 at most). Exits 1 on
any error or a missed goal.

    .venv/bin/python -m ops.load                    # 40 + 10 connections, 25 s with Stripe at 0 s and 25 s at 2 s
    .venv/bin/python -m ops.load --seconds 10 --latency 5 --workers 2

The connections share a few customers, each signed up and subscribed through
Checkout (on the stand-in's hosted page) before the clock starts; each part
starts from the same Stripe state (the stand-in's --state-file, copied) and a
freshly started site.

Never points anywhere but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import re
import runpy
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from billing.buttons import PORTAL_BUTTONS
from billing.catalog import load_catalog

ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# The goal: the page p95 with Stripe slow is at most this many times the page p95 with Stripe fast.
GOAL = 1.2
PAGES = ("pricing", "account")
# The plans of the customers the connections share (one customer each): every price of the
# catalog the site under load reads (its default, billing/catalog.toml: a fork's own plans).
PLANS = [price.lookup_key for price in load_catalog(PORTAL_BUTTONS).prices]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited early")
        if ready():
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not start")


def wait_for(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    wait_until(listening, process, what)


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


@dataclass
class Phase:
    """One phase's timings (seconds) per route, and what went wrong."""

    latency: float
    took: float = 0.0
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)

    def pages(self) -> list[float]:
        return sorted(t for route in PAGES for t in self.timings[route])


def percentiles(timings: list[float]) -> tuple[float, float, float, float]:
    """p50, p95, p99 and max, in ms."""
    t = sorted(timings)
    q = statistics.quantiles(t, n=100) if len(t) > 1 else [t[0]] * 99
    return q[49] * 1000, q[94] * 1000, q[98] * 1000, t[-1] * 1000


def machine() -> str:
    cpu = platform.machine()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    busy = f", load average {os.getloadavg()[0]:.1f} at the start" if hasattr(os, "getloadavg") else ""
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()}{busy}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=40, help="connections on the pages (default 40)")
    parser.add_argument("--buttons", type=int, default=10, help="connections pressing a button (default 10)")
    parser.add_argument("--seconds", type=float, default=25, help="time with Stripe at each speed (default 25)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternate the two speeds this many times, to even out drift (default 2)"
    )
    parser.add_argument("--latency", type=float, default=2.0, help="Stripe's answer time in the slow phase (default 2)")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: gunicorn.conf.py's)")
    args = parser.parse_args()
    if not 0 < args.latency < float("inf") or args.rounds < 1:
        parser.error("--latency is a number of seconds above 0, and --rounds at least 1")

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
    if args.workers:
        env["WEB_CONCURRENCY"] = str(args.workers)
    conf = gunicorn_settings(env)
    workers = int(str(conf["workers"]))
    python = sys.executable
    seeded = tmp / "standin-seeded.json"
    customers: list[tuple[dict[str, str], str]] = []
    phases = {0.0: Phase(0.0), args.latency: Phase(args.latency)}
    print(f"machine: {machine()}")
    print(
        f"gunicorn.conf.py: {conf['workers']} workers x {conf['threads']} threads ({conf['worker_class']}),"
        f" timeout {conf['timeout']} s; {args.pages} connections on pages, {args.buttons} on buttons,"
        f" {args.seconds:g} s at each speed in {args.rounds} parts, all on 127.0.0.1",
        flush=True,
    )
    # Fast, slow, fast, slow...: each speed gets `seconds` in all, in `rounds` parts, so other
    # work on the machine that comes and goes weighs on both alike.
    for n, latency in enumerate([0.0, args.latency] * args.rounds):
        state = tmp / f"standin-{n}.json"
        if seeded.exists():
            shutil.copyfile(seeded, state)
        processes: list[subprocess.Popen[bytes]] = []
        try:
            standin = subprocess.Popen(
                [python, "-m", "standin", "--port", str(standin_port), "--state-file", str(state)]
                + ["--latency", f"{latency:g}"],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=(tmp / f"standin-{n}.log").open("wb"),
            )
            processes.append(standin)
            wait_for(standin_port, standin, "the stand-in")
            if not customers:
                for command in (["init-db"], ["stripe", "setup"]):
                    subprocess.run(
                        [python, "-m", "flask", "--app", "app", *command],
                        cwd=ROOT,
                        env=env,
                        check=True,
                        capture_output=True,
                    )
            booted = tmp / f"booted-{n}"
            booted.mkdir()
            site = subprocess.Popen(
                # The project's gunicorn.conf.py as a merchant runs it, on a loopback port.
                [python, "-m", "gunicorn", "-c", str(config_with_boot_marks(tmp, booted))]
                + ["--bind", f"127.0.0.1:{site_port}", "app:create_app()"],
                cwd=ROOT,
                env=env,
            )
            processes.append(site)
            wait_for(site_port, site, "gunicorn")
            # Every worker has loaded the site (its start asks Stripe for the portal configuration
            # and the prices): connections opened before would all go to the first one ready.
            wait_until(partial(ready_workers, booted, workers), site, "the workers")
            if not customers:
                customers = [subscribed_customer(site_port, n, plan) for n, plan in enumerate(PLANS)]
                shutil.copyfile(state, seeded)
            run(phases[latency], site_port, customers, args.pages, args.buttons, args.seconds / args.rounds)
        finally:
            for process in reversed(processes):
                process.terminate()
                process.wait(10)
    for phase in phases.values():
        report(phase, args.pages, args.buttons, args.rounds)
    (_, fast, fast99, _), (_, slow, slow99, _) = (percentiles(phase.pages()) for phase in phases.values())
    ratio = slow / fast
    verdict = "PASS" if ratio <= GOAL else "FAIL"
    print()
    print(f"page p99: {fast99:.1f} ms with Stripe at 0 s, {slow99:.1f} ms at {args.latency:g} s")
    print(
        f"page p95: {fast:.1f} ms with Stripe at 0 s, {slow:.1f} ms at {args.latency:g} s:"
        f" ratio {ratio:.2f} (goal <= {GOAL}) {verdict}"
    )
    if any(phase.errors for phase in phases.values()) or verdict == "FAIL":
        print(f"(the stand-in's request logs are in {tmp})")
        raise SystemExit(1)
    shutil.rmtree(tmp, ignore_errors=True)


def ready_workers(booted: Path, workers: int) -> bool:
    return len(list(booted.iterdir())) >= workers


def config_with_boot_marks(tmp: Path, booted: Path) -> Path:
    """gunicorn.conf.py, plus a hook that leaves a file in `booted` when a worker is ready."""
    config = tmp / "gunicorn-load.conf.py"
    config.write_text(
        "import runpy\n"
        f"globals().update(runpy.run_path({str(ROOT / 'gunicorn.conf.py')!r}))\n"
        "def post_worker_init(worker):\n"
        f"    open(f'{booted}/{{worker.pid}}', 'w').close()\n"
    )
    return config


def gunicorn_settings(env: dict[str, str]) -> dict[str, object]:
    """What gunicorn.conf.py sets with this environment (as gunicorn reads it)."""
    saved = dict(os.environ)
    try:
        os.environ.update(env)
        conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    threads = conf.get("threads", 1)
    default_class = "gthread" if threads > 1 else "sync"
    return {
        "workers": conf.get("workers", 1),
        "threads": threads,
        "worker_class": conf.get("worker_class", default_class),
        "timeout": conf.get("timeout", 30),
    }


def run(
    phase: Phase, port: int, customers: list[tuple[dict[str, str], str]], pages: int, buttons: int, seconds: float
) -> None:
    """`pages` connections on the pages and `buttons` pressing Manage billing, for `seconds`;
    their timings and errors are added to `phase`'s."""
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def visit(n: int, on_pages: bool) -> None:
        cookies, token = customers[n % len(customers)]
        visitor = Visitor(port, cookies)
        i = n
        while time.monotonic() < stop:
            route = PAGES[i % len(PAGES)] if on_pages else "button"
            i += 1
            started = time.perf_counter()
            try:
                if route == "pricing":
                    visitor.cookies = {}  # signed out
                    status, _ = visitor.request("GET", "/pricing")
                    ok = status == 200
                elif route == "account":
                    visitor.cookies = dict(cookies)
                    status, _ = visitor.request("GET", "/account")
                    ok = status == 200
                else:
                    status, _ = visitor.request("POST", "/account/billing", {"csrf_token": token})
                    ok = status == 303
            except Exception as e:  # noqa: BLE001 - counted and reported
                status, ok = 0, False
                visitor = Visitor(port, cookies)
                with lock:
                    phase.errors.append(f"{route}: {e!r}")
            elapsed = time.perf_counter() - started
            with lock:
                phase.timings[route].append(elapsed)
                if not ok and status:
                    phase.errors.append(f"{route}: HTTP {status}")

    threads = [threading.Thread(target=visit, args=(n, True)) for n in range(pages)]
    threads += [threading.Thread(target=visit, args=(n, False)) for n in range(buttons)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.took += seconds  # the clock; requests under way at its end finish and count


def report(phase: Phase, pages: int, buttons: int, rounds: int) -> None:
    timings = phase.timings
    total = sum(len(t) for t in timings.values())
    took = phase.took
    print()
    parts = f" in {rounds} parts" if rounds > 1 else ""
    print(f"Stripe at {phase.latency:g} s: {pages} + {buttons} connections, {took:.0f} s{parts}")
    print(f"{'route':10} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    rows = [(route, timings[route]) for route in PAGES] + [("pages", phase.pages()), ("button", timings["button"])]
    for route, t in rows:
        if t:
            figures = " ".join(f"{m:8.1f}" for m in percentiles(t))
            print(f"{route:10} {len(t):9d} {len(t) / took:8.1f} {figures}")
    print(f"total      {total:9d} {total / took:8.1f}   errors: {len(phase.errors)}", flush=True)
    for error in sorted(set(phase.errors))[:10]:
        print("  ", error)


if __name__ == "__main__":
    main()
