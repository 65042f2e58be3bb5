"""gunicorn's settings for serving the site for real:

    .venv/bin/gunicorn -c gunicorn.conf.py 'app:create_app()'

Listens on 0.0.0.0:$PORT when PORT is set (as hosting platforms do), else on
127.0.0.1:8000. WEB_CONCURRENCY sets the number of worker processes (default:
2 per core + 1); each serves 12 requests at once in threads (see `threads` for why).
The site's own settings come from the environment and .env.
"""

from __future__ import annotations

import multiprocessing
import os

from dotenv import load_dotenv

from billing.stripe_api import slowest_request_seconds

load_dotenv()

port = os.environ.get("PORT", "").strip()
bind = f"0.0.0.0:{port}" if port else "127.0.0.1:8000"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * multiprocessing.cpu_count() + 1)

# Pages stay fast while Stripe is slow. Pages never call Stripe; a button makes one call and
# holds its thread for as long as Stripe takes to answer. A worker serves a browser's
# connection until it closes, so when all of a worker's threads wait on Stripe, the page
# views it holds wait behind them. Hence plain threads ("gthread"), and plenty of them:
# a thread waiting on Stripe costs a little memory and no CPU, and 12 a worker absorb a
# burst of slow clicks on any one worker. `make load` (docs/performance.md): 40 connections
# on pages and 10 on a button, Stripe answering at once and then in 2 s, 5 workers on 2 cores:
#   4 threads:  page p95 570 -> 107 ms, but p99 0.8 -> 4.7 s (pages queued behind clicks),
#               and a click took 5.3 s (p50), queued behind other clicks
#   12 threads: page p95 345 -> 249 ms, p99 673 -> 438 ms (pages did not notice),
#               and a click took 2.3 s (p50): Stripe's 2 s and the site's own work
# More did not help here: with 16 (one run) fewer pages a second were served, as the
# threads of one process take turns to run Python. And each thread needs its own database
# connection while it serves a request. SQLAlchemy's pool holds 15 a worker (5, plus 10
# opened on demand): to raise `threads` above 15, raise the pool too
# (SQLALCHEMY_ENGINE_OPTIONS "pool_size"), and keep workers x threads under your
# database's connection limit.
# Not gevent: it needs monkey-patching before anything imports ssl (the Stripe SDK does,
# and this file imports it), and measured no better here (page p95 about 1 s either way).
worker_class = "gthread"
threads = 12

try:
    _stripe_timeout = float(os.environ.get("STRIPE_TIMEOUT") or 10)
except ValueError:
    _stripe_timeout = 10.0  # the app refuses to start and names the bad setting
# A worker silent for longer than this is restarted. A request waits on Stripe for at most
# slowest_request_seconds (63 s with STRIPE_TIMEOUT=10), so a slow Stripe gets the customer
# a message, not a killed worker. (A gthread worker keeps reporting in while its threads
# wait; this bound also applies to a worker's start, which reads the portal configuration
# and prices from Stripe, and to the "sync" worker, one request at a time, if you switch.)
timeout = int(slowest_request_seconds(_stripe_timeout)) + 15
# On a restart or deploy, a worker finishes the requests it has begun before it stops: a
# click already waiting on Stripe gets its answer (its portal session, or a message).
graceful_timeout = timeout
# Only the error log: the request lines come from your proxy or platform.
loglevel = "warning"
