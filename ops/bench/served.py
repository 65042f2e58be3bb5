"""The site under gunicorn (gunicorn.conf.py), loaded by wrk: requests per second on
each page and its bare view, the signed-in ones rotating over every visitor's cookie
(visitors.lua)."""

from __future__ import annotations

import http.client
import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from ops.bench.site import USER_AGENT
from ops.load import wait_for

ROOT = Path(__file__).resolve().parent.parent.parent
ROTATE = Path(__file__).with_name("visitors.lua")
# The project's gunicorn.conf.py (timeouts, log level), 2 workers of 4 threads each, named
# here so that the figures say what served them.
GUNICORN = ["-c", "gunicorn.conf.py", "--worker-class", "gthread", "--workers", "2", "--threads", "4"]
# wrk waits 2 s for an answer by default; a busy machine (a shared one) can take longer.
WRK = ["-t2", "-c20", "--timeout", "10s", "-H", f"User-Agent: {USER_AGENT}"]


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


def gunicorn(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """The bench's site (ops.bench.site.served_app) on `port`; its output to `log`."""
    command = [sys.executable, "-m", "gunicorn", *GUNICORN, "--bind", f"127.0.0.1:{port}"]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*command, "ops.bench.site:served_app()"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    wait_for(port, process, "gunicorn")
    return process


def check(port: int, path: str, cookie: str = "", expect: str = "") -> None:
    """One request as wrk will send it: a 200 showing `expect` and setting no cookie (wrk
    counts a redirect to the sign-in page as a success)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers={"User-Agent": USER_AGENT, **({"Cookie": cookie} if cookie else {})})
    answer = connection.getresponse()
    body = answer.read().decode()
    connection.close()
    if answer.status != 200 or expect not in body or answer.getheader("Set-Cookie"):
        raise SystemExit(f"{path} answered {answer.status} ({answer.getheaders()}), not the page")


def wrk(url: str, seconds: float, cookies: Path | None = None) -> float:
    """Requests per second on `url` over `seconds`; with `cookies`, each request as the
    next visitor in that file."""
    rotate = ["-s", str(ROTATE), url, "--", str(cookies)] if cookies else [url]
    command = ["wrk", *WRK, f"-d{seconds:g}s", *rotate]
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


def throughput(
    port: int, paths: dict[str, tuple[str, bool]], cookies: Path, seconds: float, rounds: int
) -> dict[str, list[float]]:
    """req/s per name for each round, `paths` naming (path, signed in); the names take
    turns, so that a slow moment of the machine falls on each in turn."""
    for path, signed_in in paths.values():  # a first second each: connections opened, code warm
        wrk(f"http://127.0.0.1:{port}{path}", 1, cookies if signed_in else None)
    rates: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, (path, signed_in) in paths.items():
            rates[name].append(wrk(f"http://127.0.0.1:{port}{path}", seconds, cookies if signed_in else None))
    return rates
