"""The queue that runs the background work (billing.worker): Huey
(https://huey.readthedocs.io), a small, long-kept task queue with a SQLite store and a
Redis store behind one API.

QUEUE_URL decides where it lives and who works it:
  - unset: a SQLite file in the instance folder, worked by threads inside one of the web
    processes (the first to serve a request takes a lock on it; if that process ends,
    another takes over). `make run` needs nothing more.
  - redis://...: Redis, shared by every instance, worked by separate processes:
    `flask --app app worker` (as many as you like, on any host that reaches Redis).
  - "immediate": each job runs at once, in the process that queued it (the tests).
A job is only a nudge: what it must do is in the database (billing.inbox), so a job lost
(Redis down when the webhook came, a worker killed) is found again by the sweep that runs
every minute.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import click
from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer
from huey.exceptions import RetryTask

from billing import worker
from billing.budget import StripeBudget, background_budget
from billing.models import db
from billing.settings import IMMEDIATE, Settings
from billing.stripe_api import BillingError

log = logging.getLogger(__name__)

EXTENSION = "queue"
# Jobs run at once by the web process that works a SQLite queue: enough to keep the budget's
# 12 reads a second busy while each waits a few hundred milliseconds on Stripe.
EMBEDDED_THREADS = 4
# How often the other web processes try the queue lock again (one takes over if its holder ends).
LOCK_RETRY_SECONDS = 5.0


class Queue:
    """What the app keeps of its queue: the Huey instance, its job, and the budget."""

    def __init__(
        self, huey: Huey, refresh: Callable[[str], Any], embedded: bool, budget: StripeBudget, lock_path: Path
    ) -> None:
        self.huey, self._refresh, self.embedded = huey, refresh, embedded
        # The background share of Stripe's rate limit (also spent by `flask stripe resync`).
        self.budget = budget
        self._started = threading.Lock()
        self._consumer: Consumer | None = None
        self._lock_path = lock_path
        self._lock: IO[str] | None = None
        self._next_try = 0.0

    def refresh_soon(self, subject: str) -> None:
        """Queue a refresh of `subject`. If the queue can't be reached, the event stays
        recorded and the next sweep queues it (logged, never raised: Stripe has been
        told the event is safe, and it is)."""
        self.start_here()
        try:
            self._refresh(subject)
        except Exception as e:  # Redis down, or a SQLite queue file locked for too long
            log.warning("Could not queue a refresh of %s (%s): the sweep will", subject, type(e).__name__)

    def start_here(self) -> None:
        """Without a queue server, one web process works the queue itself (threads), the
        one holding the queue's lock in the instance folder: then its in-process budget is the
        whole site's. Not a `flask` command (init-db, demo reset): it ends soon and would
        cut a job off; what it queues waits in the file for the server. (`flask run` serves
        from other threads, where no command's context is.)"""
        if not self.embedded or self._consumer is not None or time.monotonic() < self._next_try:
            return
        if click.get_current_context(silent=True):
            return
        with self._started:
            if self._consumer is not None or time.monotonic() < self._next_try:
                return
            self._next_try = time.monotonic() + LOCK_RETRY_SECONDS
            lock = self._lock_path.open("w")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another process of this site works the queue
                lock.close()
                return
            self._lock = lock  # held for as long as this process lives
            # Polls its SQLite file every half second at most when idle (Huey's default
            # backs off to 10 s): an event shows on the pages within a second or so.
            self._consumer = _InProcessConsumer(
                self.huey, workers=EMBEDDED_THREADS, worker_type="thread", periodic=True, max_delay=0.5
            )
            self._consumer.start()


class _InProcessConsumer(Consumer):
    def _set_signal_handlers(self) -> None:
        """The web server handles this process's signals; the threads stop with it."""


def init_app(app: Flask, settings: Settings) -> Queue:
    """Make the app's queue and register its jobs on it (the web processes queue them,
    the workers run them: both call this, through create_app)."""
    huey, embedded = _make_huey(settings, Path(app.instance_path))
    redis = settings.queue_url.startswith(("redis://", "rediss://"))
    budget = StripeBudget(settings.stripe_background_rate, settings.queue_url if redis else "memory://")

    def run(job: Callable[..., None], *args: Any) -> None:
        with app.app_context():
            spending = background_budget.set(budget)
            try:
                job(*args)
            except BillingError as e:
                # Stripe said 429, or did not answer: try again later, at a jittered moment
                # so that the jobs that failed together do not all come back together.
                log.info("Background job %s%r will be retried: %s", job.__name__, args, e)
                raise RetryTask(delay=random.uniform(5, 30)) from e
            finally:
                background_budget.reset(spending)
                db.session.remove()

    @huey.task(name="refresh")
    def refresh(subject: str) -> None:
        run(worker.refresh, subject)

    @huey.periodic_task(crontab(), name="sweep")
    def sweep() -> None:
        run(worker.sweep, app.extensions[EXTENSION].refresh_soon)

    queue = app.extensions[EXTENSION] = Queue(
        huey, refresh, embedded, budget, Path(app.instance_path) / f"{huey.name}.lock"
    )
    if embedded:
        app.before_request(queue.start_here)  # the first request starts it: this process serves
    app.cli.add_command(worker_command)
    return queue


def _make_huey(settings: Settings, instance: Path) -> tuple[Huey, bool]:
    # A job is about one database's rows: the queue is named after the database, so two
    # sites sharing a Redis (staging and production) or an instance folder (the tests)
    # never run each other's jobs. Every instance and worker of a site names the same one.
    name = "billing-" + hashlib.sha256(settings.database_url.encode()).hexdigest()[:12]
    if settings.queue_url == IMMEDIATE:
        return MemoryHuey(name, immediate=True, results=False), False
    if settings.queue_url:
        return RedisHuey(name, url=settings.queue_url, results=False), False
    # No fsync on the queue's file: a job is a nudge, and one lost to a power cut is found
    # again by the sweep; the event itself is in the site's database, synced.
    return SqliteHuey(name, filename=str(instance / "queue.sqlite"), results=False, fsync=False), True


def refresh_soon(subject: str) -> None:
    """Queue a refresh of `subject` on the running app's queue (see Queue.refresh_soon)."""
    queue: Queue = current_app.extensions[EXTENSION]
    queue.refresh_soon(subject)


@click.command("worker")
@click.option("--threads", default=4, show_default=True, help="Jobs run at once by this process.")
def worker_command(threads: int) -> None:
    """Work the background queue (webhook events, emails) until stopped (Ctrl-C, SIGTERM
    finishes the jobs begun). Run one or more beside the web processes when QUEUE_URL is a
    Redis server; without one, a web process works the queue itself."""
    queue: Queue = current_app.extensions[EXTENSION]
    if queue.huey.immediate:
        raise click.ClickException("QUEUE_URL=immediate runs each job where it is queued: there is no queue to work.")
    # What the jobs did, one line each, on stderr (the log's secrets are redacted: billing.web).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
    logging.getLogger("stripe").setLevel(logging.WARNING)  # not a line per call (STRIPE_LOG shows them)
    Consumer(queue.huey, workers=threads, worker_type="thread", periodic=True).run()
