"""`python -m ops.storm`: for each database, start the stack, seed, measure the healthy
clicks, play the storm while watching the mirror converge, then resync; print the figures."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

import ops.storm
from ops.bench.served import load_average, machine
from ops.storm import clicks, deliveries, report, seed, site, stack, stats
from ops.storm.mailbox import Mailbox
from ops.storm.report import Report, ms, percentile

KEY = "sk_test_storm"
WEBHOOK_SECRET = "whsec_storm_renewal_day"
PASSWORD = "storm-password-0123"
CLICKERS = 4
HEALTHY_SECONDS = 15.0
SEED_THREADS = 32


@dataclass(frozen=True)
class Options:
    customers: int
    latency: float
    rate_limit: float
    background_rate: float | None
    instances: int
    workers: int
    worker_threads: int
    converge_timeout: float
    resync_timeout: float
    postgres_url: str | None
    redis_url: str | None
    first_port: int | None
    keep: bool


def parse(argv: list[str] | None) -> tuple[Options, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m ops.storm", description=ops.storm.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=2000, help="customers renewing (default 2000)")
    parser.add_argument("--latency", type=float, default=0.15, help="Stripe's answer time, s (default 0.15)")
    parser.add_argument("--rate-limit", type=float, default=25, help="Stripe's requests/s (default 25, a sandbox's)")
    parser.add_argument(
        "--background-rate",
        type=float,
        help="STRIPE_BACKGROUND_RATE for the site (default: the site's, half the limit)",
    )
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--postgres-url", help="a PostgreSQL server to use (default: start one with .ci/postgres)")
    parser.add_argument("--redis-url", help="a Redis server to use (default: start one with .ci/redis)")
    parser.add_argument("--workers", type=int, default=2, help="queue worker processes on PostgreSQL (default 2)")
    parser.add_argument("--worker-threads", type=int, default=4, help="threads per worker (default 4)")
    parser.add_argument(
        "--converge-timeout", type=float, default=300, help="give up waiting after this, s (default 300)"
    )
    parser.add_argument("--resync-timeout", type=float, default=600, help="stop the resync after this, s (default 600)")
    parser.add_argument("--ports", type=int, metavar="FIRST", help="use ports FIRST, FIRST+1, ... (default: free ones)")
    parser.add_argument("--keep", action="store_true", help="keep the logs' folder (printed) after the run")
    args = parser.parse_args(argv)
    if args.customers < CLICKERS + 1 or args.latency < 0 or args.rate_limit <= 0:
        parser.error(f"--customers is at least {CLICKERS + 1}, --latency 0 or more, --rate-limit above 0")
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    options = Options(
        args.customers,
        args.latency,
        args.rate_limit,
        args.background_rate,
        1,
        args.workers,
        args.worker_threads,
        args.converge_timeout,
        args.resync_timeout,
        args.postgres_url,
        args.redis_url,
        args.ports,
        args.keep,
    )
    return options, databases


def main(argv: list[str] | None = None) -> None:
    options, databases = parse(argv)
    print(f"Machine: {machine()}")
    print(f"Load average before: {load_average()}")
    ports = stack.Ports(options.first_port)
    folder = Path(tempfile.mkdtemp(prefix="storm-"))
    try:
        for database in databases:
            print(storm(database, options, ports, folder / database).text(), flush=True)
    finally:
        print(f"Load average after: {load_average()}")
        if options.keep:
            print(f"Logs: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def fresh_schema(url: str) -> str:
    """A new, empty schema on the PostgreSQL server at `url`: the site's database for one run."""
    schema = "storm_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine.dispose()
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def storm(database: str, options: Options, ports: stack.Ports, folder: Path) -> Report:
    folder.mkdir(parents=True)
    on_postgres = database == "postgres"
    instances = 2 if on_postgres else 1
    run = "storm" + uuid.uuid4().hex[:8]
    with ExitStack() as running:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "STRIPE_SECRET_KEY": KEY,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "SECRET_KEY": "storm-secret-key-the-same-on-every-instance",
            "INSTANCE_PATH": str(folder / "instance"),
            "DATABASE_URL": f"sqlite:///{folder / 'storm.sqlite'}",
            "DEMO_PERSONAS": "off",
            "SHOW_API_CALLS": "off",
            "MAIL_FROM": "billing@storm.example",
        }
        # The site's background share of the limit, stated (half of it, as the site's default).
        env["STRIPE_BACKGROUND_RATE"] = str(background_rate(options))
        if on_postgres:
            postgres = options.postgres_url or stack.ci_service(running, "postgres", "PGPORT_TEST", ports.take())
            redis = options.redis_url or stack.ci_service(running, "redis", "REDIS_PORT_TEST", ports.take())
            env |= {"DATABASE_URL": fresh_schema(postgres), "QUEUE_URL": redis, "RATELIMIT_STORAGE_URI": redis}
        mailbox = running.enter_context(Mailbox(ports.take()))
        env["MAIL_URL"] = mailbox.url
        stripe_url = stack.standin(running, ports.take(), folder / "standin.log")
        env["STRIPE_API_BASE"] = stripe_url
        site_ports = [ports.take() for _ in range(instances)]
        env["APP_BASE_URL"] = f"http://127.0.0.1:{site_ports[0]}"
        for command in (["init-db"], ["stripe", "setup"]):
            done = stack.flask(env, *command)
            if done.returncode:
                raise SystemExit(f"flask {' '.join(command)} failed:\n{done.stdout}{done.stderr}")

        begun = time.monotonic()
        sdk = seed.client(stripe_url, KEY)
        seeded = seed.customers(sdk, options.customers, run, SEED_THREADS)
        app = site.in_process_app(env)
        site.add_accounts(app, {c.id: c.email for c in seeded}, PASSWORD)
        failed = site.refresh_all(app, SEED_THREADS)
        if failed:
            raise SystemExit(f"{failed} accounts could not be brought in sync before the storm")
        changed = seed.change(sdk, seeded, SEED_THREADS)
        expected = {c.customer.id: c.expected for c in changed}
        events = deliveries.renewal_events(changed, run)
        seeding = time.monotonic() - begun
        # From here on, Stripe is slow and limited: seeding at that pace would take longer than the day.
        stats.set_limits(stripe_url, options.latency, options.rate_limit)

        queue = "none: the webhook does the work"
        sites = [stack.site(running, port, env, folder / f"site{k}.log") for k, port in enumerate(site_ports)]
        if stack.has_worker_command(env):
            if on_postgres:
                for k in range(options.workers):
                    stack.worker(running, env, options.worker_threads, folder / f"worker{k}.log")
                queue = f"Redis, {options.workers} worker processes x {options.worker_threads} threads"
            else:
                queue = "SQLite, worked by threads in one web process"
        people = [clicks.signed_in(sites[k % len(sites)], seeded[k + 1].email, PASSWORD) for k in range(CLICKERS)]
        clickers = clicks.Clickers(people, stripe_url)

        clickers.start()
        time.sleep(HEALTHY_SECONDS)
        healthy = clickers.stop()

        stats.reset(stripe_url)
        during = clickers.start()
        sent: list[deliveries.Deliveries] = []
        sender = threading.Thread(target=lambda: sent.append(deliveries.deliver(events, sites, WEBHOOK_SECRET)))
        started = time.monotonic()
        sender.start()
        converged_after, equal = None, 0
        while time.monotonic() - started < options.converge_timeout:
            now = site.mirrored(app)
            equal = sum(now.get(customer) == state for customer, state in expected.items())
            if equal == len(expected):
                converged_after = time.monotonic() - started
                break
            time.sleep(0.5)
        sender.join()
        clickers.stop()
        counts = stats.read(stripe_url)
        recorded = site.events_recorded(app, f"evt_{run}_")
        time.sleep(1)  # the last emails on their way
        emails = sum(mailbox.received.values())

        stats.reset(stripe_url)
        resync_begun = time.monotonic()
        try:
            resynced = stack.flask(env, "stripe", "resync", timeout=options.resync_timeout)
            resync_note = "" if resynced.returncode == 0 else f" (exit {resynced.returncode})"
        except subprocess.TimeoutExpired:
            resync_note = f" (stopped after {options.resync_timeout:g} s)"
        resync_seconds = time.monotonic() - resync_begun
        resync_counts = stats.read(stripe_url)

    title = (
        f"{'PostgreSQL + Redis' if on_postgres else 'SQLite'}: {options.customers} customers, {len(events)} events,"
        f" {instances} instance(s) under gunicorn -c gunicorn.conf.py, queue: {queue};"
        f" Stripe (the stand-in) at {options.latency:g} s and "
        f"{options.rate_limit:g} requests/s; seeded in {seeding:.0f} s"
    )
    result = Report(title, [])
    webhooks = sent[0]
    budget = background_rate(options)
    non_2xx = sum(n for status, n in webhooks.statuses.items() if not 200 <= status < 300)
    p50, p95, p99 = (percentile(webhooks.seconds, p) for p in (50, 95, 99))
    result.add(
        f"webhook answers: {len(webhooks.seconds)}, p50 {ms(p50)}, p95 {ms(p95)}, p99 {ms(p99)}",
        f"p99 <= {report.WEBHOOK_P99_MS} ms",
        p99 * 1000 <= report.WEBHOOK_P99_MS,
    )
    codes = ", ".join(f"{status or 'no answer'} x {n}" for status, n in sorted(webhooks.statuses.items()))
    result.add(
        f"  codes: {codes}; 2xx on first delivery {webhooks.first_2xx} / {len(events)};"
        f" given up after 5 deliveries: {len(webhooks.gave_up)}",
        "0 non-2xx",
        non_2xx == 0,
    )
    result.add(
        f"  a non-2xx was re-sent after {deliveries.RETRY_AFTER:g} s (Stripe waits far longer: exponential backoff"
        f" over up to 3 days); all deliveries took {webhooks.took:.0f} s"
    )
    reads = counts.background_reads
    per_customer = reads / options.customers
    result.add(
        f"Stripe reads per customer: {per_customer:.2f} ({reads} reads:"
        f" {', '.join(f'{counts.requests[name]} {name}' for name in stats.BACKGROUND_READS if counts.requests[name])})",
        f"<= {report.READS_PER_CUSTOMER}",
        per_customer <= report.READS_PER_CUSTOMER,
    )
    result.add(
        f"  Stripe 429s during the storm: {counts.rate_limited} (of {counts.total} requests, clicks'"
        f" {counts.requests['POST /v1/billing_portal/sessions']} portal sessions included)"
    )
    bound = report.CONVERGE_FACTOR * reads / budget
    if converged_after is None:
        result.add(
            f"mirror equal to Stripe: NOT after {options.converge_timeout:g} s ({equal} / {len(expected)})",
            f"<= {bound:.0f} s (1.2 x {reads} reads / {budget:g} per s)",
            False,
        )
    else:
        result.add(
            f"mirror equal to Stripe for all {len(expected)}: after {converged_after:.1f} s",
            f"<= {bound:.0f} s (1.2 x {reads} reads / {budget:g} per s)",
            converged_after <= bound,
        )
    result.add(
        f"  events recorded {recorded} / {len(events)}; emails received {emails}"
        f" (customers whose payment failed: {sum(c.payment_fails for c in seeded)})"
    )
    healthy_p95, during_p95 = percentile(healthy.seconds, 95), percentile(during.seconds, 95)
    result.add(
        f"clicks: {len(during.failed)} failed of {len(during.seconds)} during the storm"
        + (f" (first: {during.failed[0]})" if during.failed else ""),
        "0 failed",
        not during.failed,
    )
    result.add(
        f"  click p95 {ms(during_p95)} during, {ms(healthy_p95)} before ({len(healthy.seconds)} clicks in"
        f" {HEALTHY_SECONDS:g} s, {len(healthy.failed)} failed)",
        f"<= {report.CLICK_P95_FACTOR} x before",
        during_p95 <= report.CLICK_P95_FACTOR * healthy_p95,
    )
    result.add(
        f"flask stripe resync over {options.customers}: {resync_counts.total} Stripe calls"
        f" ({resync_counts.rate_limited} answered 429), {resync_seconds:.1f} s{resync_note}",
        f"<= {report.RESYNC_CALLS} calls",
        resync_counts.total <= report.RESYNC_CALLS,
    )
    return result


def background_rate(options: Options) -> int:
    """The background calls a second the site is given: --background-rate, else half the limit."""
    return int(options.background_rate or options.rate_limit // 2)
