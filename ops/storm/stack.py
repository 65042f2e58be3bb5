"""The processes of a renewal day, all on 127.0.0.1: PostgreSQL and Redis (the project's
.ci scripts, unless given URLs), the Stripe stand-in, the site's gunicorn instances and its
queue workers. Each is started as a merchant would start it and stopped at the end."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

from ops.load import free_port, wait_for, wait_until

ROOT = Path(__file__).resolve().parent.parent.parent
PYTHON = sys.executable


class Ports:
    """Loopback ports: FIRST, FIRST+1, ... when given (a machine with ports set aside), else free ones."""

    def __init__(self, first: int | None) -> None:
        self._next: Iterator[int] | None = itertools.count(first) if first else None

    def take(self) -> int:
        return next(self._next) if self._next is not None else free_port()


def ci_service(stack: ExitStack, script: str, port_variable: str, port: int) -> str:
    """.ci/postgres or .ci/redis on `port`: its URL; stopped (and its data removed) at the end."""
    env = {**os.environ, port_variable: str(port)}
    url = subprocess.run(
        ["bash", str(ROOT / ".ci" / script)], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    stack.callback(subprocess.run, ["bash", str(ROOT / ".ci" / script), "stop"], env=env, check=False)
    return url


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def started(stack: ExitStack, command: list[str], env: dict[str, str] | None, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    stack.callback(stop, process)
    return process


def standin(stack: ExitStack, port: int, log: Path) -> str:
    """The stand-in, answering at once and without a limit until stats.set_limits turns them."""
    process = started(stack, [PYTHON, "-m", "standin", "--port", str(port)], None, log)
    wait_for(port, process, "the stand-in")
    return f"http://127.0.0.1:{port}"


def flask(env: dict[str, str], *args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """One `flask --app app ...` command, as a merchant types it."""
    return subprocess.run(
        [PYTHON, "-m", "flask", "--app", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def has_worker_command(env: dict[str, str]) -> bool:
    """Whether this site has the queue's `flask worker` (issue 21, item 2) yet."""
    return flask(env, "worker", "--help").returncode == 0


def site(stack: ExitStack, port: int, env: dict[str, str], log: Path) -> str:
    """One instance: `gunicorn -c gunicorn.conf.py 'app:create_app()'` on `port`."""
    command = [PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "app:create_app()"]
    process = started(stack, command, env, log)
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            urllib.request.urlopen(url + "/signin", timeout=5).close()
            return True
        except OSError:
            return False

    wait_until(answers, process, f"gunicorn on port {port}")
    return url


def worker(stack: ExitStack, env: dict[str, str], threads: int, log: Path) -> subprocess.Popen[bytes]:
    """One queue worker process: `flask --app app worker --threads N`."""
    command = [PYTHON, "-m", "flask", "--app", "app", "worker", "--threads", str(threads)]
    return started(stack, command, env, log)
