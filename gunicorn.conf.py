"""gunicorn's settings for serving the site for real:

    .venv/bin/gunicorn -c gunicorn.conf.py 'app:create_app()'

Listens on 0.0.0.0:$PORT when PORT is set (as hosting platforms do), else on
127.0.0.1:8000. WEB_CONCURRENCY sets the number of worker processes (default:
2 per core + 1); each serves 4 requests at once in threads, since a button mostly
waits on Stripe. The site's own settings come from the environment and .env.
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
threads = 4

try:
    _stripe_timeout = float(os.environ.get("STRIPE_TIMEOUT") or 10)
except ValueError:
    _stripe_timeout = 10.0  # the app refuses to start and names the bad setting
# A worker silent for longer than this is restarted. A request waits on Stripe for at most
# slowest_request_seconds (63 s with STRIPE_TIMEOUT=10), so a slow Stripe gets the customer
# a message, not a killed worker.
timeout = int(slowest_request_seconds(_stripe_timeout)) + 15
graceful_timeout = 30
# Only the error log: the request lines come from your proxy or platform.
loglevel = "warning"
