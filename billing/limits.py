"""Rate limits (Flask-Limiter), shared by the sign-in, the pages and the link pages.

Counted per client address unless a limit says otherwise. Behind a proxy, set
TRUSTED_PROXIES so the address is the client's, not the proxy's. Counts live in
RATELIMIT_STORAGE_URI: memory (one process) unless set to e.g. redis://.
"""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# Redis down must not take the sign-in or the way back from Stripe down with it: Flask-Limiter
# then counts in this process's memory (logging "Rate limit storage unreachable - falling back
# to in-memory storage") and goes back to the shared store once it answers again
# (https://flask-limiter.readthedocs.io/en/stable/configuration.html, in_memory_fallback_enabled).
limiter = Limiter(key_func=get_remote_address, default_limits=[], in_memory_fallback_enabled=True)

# A Redis that stops answering (not refusing) is given up on within a second, not waited on
# for ever by every request (redis-py has no socket timeout by default).
REDIS_TIMEOUTS = {"socket_connect_timeout": 1, "socket_timeout": 1}


def init_app(app: Flask) -> None:
    if str(app.config.get("RATELIMIT_STORAGE_URI", "")).startswith(("redis://", "rediss://", "redis+unix://")):
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", REDIS_TIMEOUTS)
    limiter.init_app(app)
