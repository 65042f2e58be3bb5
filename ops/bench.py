"""How far the pages are from a floor: `python -m ops.bench` (`make bench`).

Serves the site under gunicorn in offline mode and, beside it, a floor: a bare
Flask app whose Jinja templates are the site's own pages as captured (no logic
at all), under the same gunicorn settings. wrk then loads each in turn and the
bench prints, from this one run on this machine:

  - the anonymous pricing page's and the signed-in account page's requests per
    second, site and floor, and their ratio (site / floor);
  - the in-process cost of one view of each page and of one click (a portal
    button: one Stripe call to the in-process stand-in, at zero latency);
    wrk asks for the same page again and again, which the site answers from
    memory until the data changes (billing.answer_cache), so the account page is
    also timed rendered anew, as its first view after any change is;
  - with --profile, where the views' time goes (cProfile, cumulative).

It prints figures and asserts nothing about them: it is a benchmark, not a test.

    .venv/bin/python -m ops.bench                  # 3 rounds of 8 s per page and server
    .venv/bin/python -m ops.bench --seconds 4 --rounds 2 --profile

Never points anywhere but 127.0.0.1. Needs wrk (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import logging
import os
import platform
import pstats
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, render_template
from flask.testing import FlaskClient

from ops.load import CSRF, Visitor, free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("pricing", "account")
# The same settings for the site and the floor, named in full so that they match: the
# project's gunicorn.conf.py (timeouts, log level), 2 workers of 4 threads each.
GUNICORN = ["-c", "gunicorn.conf.py", "--worker-class", "gthread", "--workers", "2", "--threads", "4"]
# wrk waits 2 s for an answer by default; a busy machine (a shared one) can take longer.
WRK = ["-t2", "-c20", "--timeout", "10s"]
PLAN = "starter_monthly"
PRICING_VIEW, ACCOUNT_VIEW = "pricing view, anonymous", "account view, signed in"
PASSWORD = "bench-password-0123"


@dataclass(frozen=True)
class Customer:
    """The signed-in visitor whose account page is measured."""

    cookie: str  # the Cookie header that signs in as them
    subscribed: bool
    trouble: str = ""  # what went wrong on the way to a subscription, if anything


# ---------------------------------------------------------------- the machine


def machine() -> str:
    """The CPU, its cores and the date: the figures mean nothing without them."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{model}, {os.cpu_count()} cores (os.cpu_count()), Python {platform.python_version()}, {now}"


def load_average() -> str:
    """Other work on the machine during the run shows here, and in the figures."""
    return ", ".join(f"{x:.1f}" for x in os.getloadavg()) + " (1, 5, 15 min)"


# ---------------------------------------------------------------- the servers


def gunicorn(app: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`app` served on `port`; its output (the migrations' chatter, any traceback) to `log`."""
    command = [sys.executable, "-m", "gunicorn", *GUNICORN, "--bind", f"127.0.0.1:{port}", app]
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_for(port, process, f"gunicorn ({app})")
    return process


# The pages as a merchant serves them: without the demo's persona menu and API-call
# panels (offline mode is only how the bench gets a Stripe without a key).
AS_A_MERCHANT_SERVES_THEM = {"DEMO_PERSONAS": "off", "SHOW_API_CALLS": "off"}


def offline_env(instance: Path, port: int) -> dict[str, str]:
    """Offline mode (no Stripe key: the stand-in in each worker) in a throwaway instance
    folder, the pages as a merchant serves them."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "STRIPE_SECRET_KEY": "",  # set, so that no .env can fill it in
        "SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "APP_BASE_URL": f"http://127.0.0.1:{port}",
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'bench.sqlite'}",
        **AS_A_MERCHANT_SERVES_THEM,
    }


def floor_app(folder: str) -> Flask:
    """The floor: each page is a Jinja template holding the captured HTML, rendered with
    no data, by a bare Flask app. What a page can cost at least, on this stack."""
    app = Flask("floor", template_folder=folder)
    app.jinja_env.keep_trailing_newline = True  # the captured bytes, to the last one
    for page in PAGES:
        app.add_url_rule(f"/{page}", page, _render(f"{page}.html"))
    return app


def _render(template: str) -> Callable[[], str]:
    return lambda: render_template(template)


# ---------------------------------------------------------------- the customer


def sign_up_and_subscribe(port: int) -> Customer:
    """Sign up, then subscribe through Checkout (up to three tries)."""
    visitor = Visitor(port)
    form = {"email": "bench@example.com", "password": PASSWORD, "confirm": PASSWORD}
    status, _ = visitor.request("POST", "/signup", {"csrf_token": visitor.token("/signup"), **form})
    assert status == 303, f"sign-up answered {status}"
    troubles = []
    for _ in range(3):
        trouble = checkout(visitor)
        if not trouble:
            break
        troubles.append(trouble)
        visitor = Visitor(port, visitor.cookies)  # a new connection, maybe to the other worker
    visitor.request("GET", "/account")  # shows (and so clears) the flashed messages
    return Customer("; ".join(f"{k}={v}" for k, v in visitor.cookies.items()), not trouble, "; ".join(troubles))


def checkout(visitor: Visitor) -> str:
    """Press Subscribe, pay on the stand-in's hosted page, come back: "" when done, else
    what went wrong. One keep-alive connection does it all: in offline mode each gunicorn
    worker has its own stand-in, and only the one that made the Checkout session knows it."""
    try:
        status, _ = visitor.request("POST", "/checkout", {"csrf_token": visitor.token("/account"), "lookup_key": PLAN})
        if status != 303:
            return f"Subscribe answered {status}"
        status, _ = visitor.request("POST", urllib.parse.urlsplit(visitor.location).path, {})
        if status != 303:
            return f"Pay on the Checkout page answered {status}"
        back = urllib.parse.urlsplit(visitor.location)
        for _ in range(5):
            status, _ = visitor.request("GET", f"{back.path}?{back.query}")
            if status != 503:
                break
            # 503: SQLite was busy (the worker's webhook thread writes the same rows a moment
            # later); the way back only reads Stripe and saves, so it is safe to come back again.
            time.sleep(1)
        if status != 303:
            return f"the way back from Checkout answered {status}"
    except (OSError, http.client.HTTPException) as e:
        return repr(e)
    return ""


def capture(port: int, customer: Customer, folder: Path) -> None:
    """Save the site's pricing page (anonymous) and account page (signed in) as the
    floor's templates, and check the floor serves them byte for byte."""
    for page, cookies in (("pricing", {}), ("account", dict(c.split("=", 1) for c in customer.cookie.split("; ")))):
        status, html = Visitor(port, cookies).request("GET", f"/{page}")
        assert status == 200, f"/{page} answered {status}"
        (folder / f"{page}.html").write_text(html)
    assert "bench@example.com" in (folder / "account.html").read_text(), "the account page is not signed in"
    floor = floor_app(str(folder)).test_client()
    for page in PAGES:
        assert floor.get(f"/{page}").get_data(as_text=True) == (folder / f"{page}.html").read_text()


# ---------------------------------------------------------------- throughput


def wrk(url: str, seconds: float, cookie: str = "") -> float:
    """Requests per second on `url` over `seconds`."""
    header = ["-H", f"Cookie: {cookie}"] if cookie else []
    command = ["wrk", *WRK, f"-d{seconds:g}s", *header, url]
    return requests_per_second(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def requests_per_second(report: str) -> float:
    """wrk's req/s; stops the bench on any socket error or non-2xx/3xx answer, which
    would make a fast error page look like a fast page."""
    if "Non-2xx" in report or "Socket errors" in report:
        raise SystemExit(f"wrk saw errors:\n{report}")
    found = re.search(r"Requests/sec:\s*([\d.]+)", report)
    if found is None:
        raise SystemExit(f"no Requests/sec in wrk's report:\n{report}")
    return float(found.group(1))


def throughput(ports: dict[str, int], cookie: str, seconds: float, rounds: int) -> dict[tuple[str, str], list[float]]:
    """req/s per (page, server) for each round: floor then site, page after page, so
    that a slow moment of the machine falls on both sides in turn."""
    cookies = {"pricing": "", "account": cookie}
    for page in PAGES:  # a first second each: templates compiled, connections opened
        for port in ports.values():
            wrk(f"http://127.0.0.1:{port}/{page}", 1, cookies[page])
    rates: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for page in PAGES:
            for server, port in ports.items():
                rate = wrk(f"http://127.0.0.1:{port}/{page}", seconds, cookies[page])
                rates.setdefault((page, server), []).append(rate)
    return rates


# ---------------------------------------------------------------- in-process


def in_process_client(instance: Path) -> FlaskClient:
    """The site in this process, in offline mode (its stand-in in memory, at zero
    latency), with a customer signed in and subscribed through Checkout."""
    from app import create_app  # only here: the floor's workers import this module too

    # Quiet: the migrations log each step at start.
    logging.disable(logging.INFO)
    try:
        app = create_app(
            {
                "TESTING": True,  # the stand-in in memory, its webhooks queued: no disk, no thread
                "INSTANCE_PATH": str(instance),
                "DATABASE_URL": f"sqlite:///{instance / 'in-process.sqlite'}",
                "SECRET_KEY": "bench-secret-key-0123456789abcdef",
                **AS_A_MERCHANT_SERVES_THEM,
            }
        )
    finally:
        logging.disable(logging.NOTSET)
    client = app.test_client()
    token = _token(client, "/signup")
    form = {"csrf_token": token, "email": "bench@example.com", "password": PASSWORD, "confirm": PASSWORD}
    assert client.post("/signup", data=form).status_code == 303
    checkout = client.post("/checkout", data={"csrf_token": _token(client, "/account"), "lookup_key": PLAN})
    paid = client.post(urllib.parse.urlsplit(checkout.headers["Location"]).path)
    back = urllib.parse.urlsplit(paid.headers["Location"])
    assert client.get(f"{back.path}?{back.query}").status_code == 303
    client.get("/account")  # clears the flashed messages
    return client


def _token(client: FlaskClient, path: str) -> str:
    found = CSRF.search(client.get(path).get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def actions(signed_in: FlaskClient, floor_folder: Path) -> dict[str, Callable[[], None]]:
    """One view of each page as wrk loads it (a page already seen: from memory, see
    billing.answer_cache), the account page rendered anew as after any change, one click
    (Manage billing: one portal session), and for scale the floor's pricing page and the
    signed-in pricing page."""
    anonymous = signed_in.application.test_client()
    floor = floor_app(str(floor_folder)).test_client()
    token = _token(signed_in, "/account")

    def get(client: FlaskClient, path: str) -> Callable[[], None]:
        return lambda: _expect(client.get(path).status_code, 200, path)

    def click() -> None:
        _expect(signed_in.post("/account/billing", data={"csrf_token": token}).status_code, 303, "/account/billing")

    def account_after_a_change() -> None:
        # What a commit does (a webhook, a return from Stripe): no kept answer is replayed.
        signed_in.application.extensions["answer_cache"].version.bump()
        get(signed_in, "/account")()

    return {
        PRICING_VIEW: get(anonymous, "/pricing"),
        ACCOUNT_VIEW: get(signed_in, "/account"),
        "account view, after a change (rendered)": account_after_a_change,
        "click: Manage billing (1 Stripe call)": click,
        "pricing view, signed in": get(signed_in, "/pricing"),
        "floor's pricing view (test client's own cost)": get(floor, "/pricing"),
    }


def _expect(status: int, wanted: int, path: str) -> None:
    if status != wanted:
        raise SystemExit(f"{path} answered {status}, not {wanted}")


def mean_ms(action: Callable[[], None], times: int, warm_up: int, batches: int = 5) -> tuple[float, float]:
    """ms per call after `warm_up` calls: the mean over all `times`, and the mean of the
    quickest of `batches` equal batches (the machine's quieter moments, as wrk's best round)."""
    for _ in range(warm_up):
        action()
    took = []
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(times // batches):
            action()
        took.append(time.perf_counter() - start)
    each = times // batches
    return sum(took) / (each * batches) * 1000, min(took) / each * 1000


def profile(action: Callable[[], None], times: int) -> str:
    """Where `times` calls spend their time: the top 25 functions by cumulative time (the
    call chain), then the top 15 by own time (the hot spots); paths shortened."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(times):
        action()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(15)
    text = out.getvalue().replace(sysconfig.get_paths()["purelib"] + "/", "").replace(f"{ROOT}/", "")
    return text.strip()


# ---------------------------------------------------------------- the run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8, help="length of one wrk round (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per page and server (default 3)")
    parser.add_argument("--views", type=int, default=500, help="in-process requests per figure (default 500)")
    parser.add_argument("--profile", action="store_true", help="print where the views' time goes (cProfile)")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("ops.bench needs wrk, the HTTP load generator: apt-get install wrk", file=sys.stderr)
        raise SystemExit(2)

    print(f"Machine: {machine()}")
    print(f"Load average before: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        folder = Path(tmp)
        customer, rates = serve_and_load(folder, args.seconds, args.rounds)
        print_throughput(customer, rates, args.seconds, args.rounds)
        client = in_process_client(folder / "in-process")
        print_in_process(actions(client, folder / "floor"), args.views, args.profile)
    print(f"Load average after: {load_average()}")


def serve_and_load(folder: Path, seconds: float, rounds: int) -> tuple[Customer, dict[tuple[str, str], list[float]]]:
    """Start the site and the floor, capture the pages, load both; always stop both."""
    instance, templates = folder / "instance", folder / "floor"
    templates.mkdir()
    site_port, floor_port = free_port(), free_port()
    env = offline_env(instance, site_port)
    log = folder / "servers.log"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        # Migrate once, before the workers start, so they don't race to.
        init_db = [sys.executable, "-m", "flask", "--app", "app", "init-db"]
        subprocess.run(init_db, cwd=ROOT, env=env, check=True, capture_output=True)
        processes.append(gunicorn("app:create_app()", site_port, env, log))
        customer = sign_up_and_subscribe(site_port)
        capture(site_port, customer, templates)
        processes.append(gunicorn(f"ops.bench:floor_app({str(templates)!r})", floor_port, {"PATH": env["PATH"]}, log))
        return customer, throughput({"floor": floor_port, "site": site_port}, customer.cookie, seconds, rounds)
    except BaseException:
        print(f"The servers' log:\n{log.read_text() if log.exists() else '(empty)'}", file=sys.stderr)
        raise
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def print_throughput(
    customer: Customer, rates: dict[tuple[str, str], list[float]], seconds: float, rounds: int
) -> None:
    print(f"Servers: gunicorn {' '.join(GUNICORN)}, site and floor alike, on 127.0.0.1")
    print(
        f"Load: wrk {' '.join(WRK)}, {rounds} rounds of {seconds:g} s per page and server, floor then site; best round"
    )
    if customer.subscribed:
        state = "subscribed to Starter monthly through Checkout" + (
            f" (after: {customer.trouble})" * bool(customer.trouble)
        )
    else:
        state = f"NOT subscribed, Checkout failed: {customer.trouble}"
    print(f"Account page: signed in, {state}; offline mode, no persona menu or API-call panels")
    print(f"{'page':10} {'floor req/s':>12} {'site req/s':>11} {'site/floor':>11}   rounds: floor | site")
    for page in PAGES:
        floor, site = rates[page, "floor"], rates[page, "site"]
        each = f"{', '.join(f'{r:.0f}' for r in floor)} | {', '.join(f'{r:.0f}' for r in site)}"
        print(f"{page:10} {max(floor):12.0f} {max(site):11.0f} {max(site) / max(floor):11.2f}   {each}")


def print_in_process(steps: dict[str, Callable[[], None]], views: int, with_profile: bool) -> None:
    warm_up = max(views // 10, 10)
    print(f"In-process (Flask test client, offline stand-in at zero latency): {views} each after {warm_up} warm-up")
    print(f"  {'ms per request':46} {'mean':>6} {'best fifth':>11}")
    for name, action in steps.items():
        mean, best = mean_ms(action, views, warm_up)
        print(f"  {name:46} {mean:6.2f} {best:11.2f}")
    if with_profile:
        for name in (PRICING_VIEW, ACCOUNT_VIEW):
            print(f"\nProfile of {views} requests, {name} (top 25 by cumulative time, top 15 by own time):")
            print(profile(steps[name], views))


if __name__ == "__main__":
    main()
