"""Rate limits (Flask-Limiter), shared by the sign-in, the pages and the link pages.

Counted per client address unless a limit says otherwise. Behind a proxy, set
TRUSTED_PROXIES so the address is the client's, not the proxy's. Counts live in
RATELIMIT_STORAGE_URI: memory (one process) unless set to e.g. redis://.
"""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, default_limits=[])
