"""`python -m ops.bench`: build the visitors, time the views in process, then serve and load."""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

import ops.bench
from billing.schema import upgrade_schema
from ops.bench import in_process, served, site
from ops.bench.in_process import request
from ops.load import free_port

PRICING, BARE = "pricing page, signed out", "bare view (does nothing)"
ACCOUNT, BARE_SIGNED_IN = "account page, a visitor's first view", "bare view: session + signed-in user"


@dataclass(frozen=True)
class Visitor:
    id: int
    email: str
    cookie: str  # the Cookie header that signs in as them


def visitors(app: Flask, count: int) -> list[Visitor]:
    """`count` new customers, each with the cookie of a browser signed in as them."""
    return [Visitor(u.id, u.email, site.visitor_cookie(app, u)) for u in site.add_customers(app, count)]


def main(argv: list[str] | None = None) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=ops.bench.__doc__, formatter_class=raw)
    parser.add_argument("--visitors", type=int, default=2000, help="distinct signed-in visitors (default 2000)")
    parser.add_argument("--warm-up", type=int, default=200, help="views before the clock starts (default 200)")
    parser.add_argument("--seconds", type=float, default=8, help="length of one wrk round (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="wrk rounds per view (default 3)")
    parser.add_argument("--port", type=int, help="the served site's port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--profile", action="store_true", help="print where the pages' time goes (cProfile)")
    parser.add_argument("--in-process", action="store_true", help="only the in-process figures (no gunicorn, no wrk)")
    args = parser.parse_args(argv)
    if not args.in_process and shutil.which("wrk") is None:
        print("ops.bench needs wrk, the HTTP load generator: apt-get install wrk (or --in-process)", file=sys.stderr)
        raise SystemExit(2)

    print(f"Machine: {served.machine()}")
    print(f"Load average before: {served.load_average()}")
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        instance = Path(tmp) / "instance"
        instance.mkdir()
        port = args.port or free_port()
        env = site.environment(instance, port)
        logging.disable(logging.INFO)  # the migrations' chatter
        try:
            app = site.in_process_app(Path(tmp) / "in-process", env["DATABASE_URL"])
            with app.app_context():
                upgrade_schema()
        finally:
            logging.disable(logging.NOTSET)
        warm, seen = visitors(app, args.warm_up), visitors(app, args.visitors)
        print_in_process(app, seen, warm, args.profile)
        if not args.in_process:
            serve_and_load(env, port, seen, Path(tmp), args.seconds, args.rounds)
    print(f"Load average after: {served.load_average()}")


def print_in_process(app: Flask, seen: list[Visitor], warm: list[Visitor], with_profile: bool) -> None:
    shows = app.extensions["catalog"].products[0].name

    def pages(people: list[Visitor]) -> dict[str, list[in_process.Request]]:
        return {
            PRICING: [request("/pricing", expect=shows)] * len(people),
            BARE: [request(site.BARE, expect="bare")] * len(people),
            ACCOUNT: [request("/account", v.cookie, v.email) for v in people],
            BARE_SIGNED_IN: [request(site.BARE_SIGNED_IN, v.cookie, f"user {v.id}") for v in people],
        }

    warm_up = [sent for requests in pages(warm).values() for sent in requests]
    figures = in_process.measure(app, pages(seen), warm_up)
    print(
        f"In-process: the app's WSGI call timed, {len(seen)} views each after {len(warm_up)} warm-up;"
        f" every signed-in view is a different visitor's first (of {len(seen)} customers)"
    )
    print(f"  {'ms per view':40} {'mean':>6} {'median':>7} {'page / bare':>12}")
    for page, bare in ((PRICING, BARE), (ACCOUNT, BARE_SIGNED_IN)):
        ratio = figures[page].mean / figures[bare].mean
        print(f"  {page:40} {figures[page].mean:6.3f} {figures[page].median:7.3f} {ratio:12.2f}")
        print(f"  {bare:40} {figures[bare].mean:6.3f} {figures[bare].median:7.3f}")
    if with_profile:
        for name in (PRICING, ACCOUNT):
            print(f"\nProfile of {len(seen)} views, {name}:")
            print(in_process.profile(app, pages(seen)[name]))


def serve_and_load(
    env: dict[str, str], port: int, seen: list[Visitor], folder: Path, seconds: float, rounds: int
) -> None:
    """Serve the bench's database under gunicorn, check one view of each kind as wrk will
    send it, load each in turn; always stop the server."""
    cookies = folder / "cookies.txt"
    cookies.write_text("".join(v.cookie + "\n" for v in seen))
    log = folder / "server.log"
    process = None
    try:
        process = served.gunicorn(port, env, log)
        served.check(port, "/pricing")
        served.check(port, site.BARE)
        for v in (seen[0], seen[-1]):
            served.check(port, "/account", v.cookie, v.email)
            served.check(port, site.BARE_SIGNED_IN, v.cookie, f"user {v.id}")
        paths = {
            PRICING: ("/pricing", False),
            BARE: (site.BARE, False),
            ACCOUNT: ("/account", True),
            BARE_SIGNED_IN: (site.BARE_SIGNED_IN, True),
        }
        rates = served.throughput(port, paths, cookies, seconds, rounds)
    except BaseException:
        print(f"The server's log:\n{log.read_text() if log.exists() else '(empty)'}", file=sys.stderr)
        raise
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    print_served(rates, len(seen), seconds, rounds)


def print_served(rates: dict[str, list[float]], count: int, seconds: float, rounds: int) -> None:
    print(f"Served: gunicorn {' '.join(served.GUNICORN)}, on 127.0.0.1")
    print(f"Load: wrk {' '.join(served.WRK)}, {rounds} rounds of {seconds:g} s per view; best round")
    print(f"Signed in: wrk sends the next of the {count} visitors' cookies each request ({served.ROTATE.name})")
    print(f"  {'req/s':40} {'best':>7}   {'bare / page':>11}   rounds")
    for page, bare in ((PRICING, BARE), (ACCOUNT, BARE_SIGNED_IN)):
        ratio = max(rates[bare]) / max(rates[page])
        for name, note in ((page, f"{ratio:11.2f}"), (bare, " " * 11)):
            print(f"  {name:40} {max(rates[name]):7.0f}   {note}   {', '.join(f'{r:.0f}' for r in rates[name])}")
