"""Pages that are the same for every visitor in the same situation, rendered once
and then served from memory: the pricing page seen by anyone not signed in is the
most visited page a merchant has, and it only changes with the catalog.

The cache belongs to the catalog it was rendered from: a new catalog object
starts an empty one, so no page outlives the prices it shows. A cached page may
hold forms (plug-ins add some): while it is rendered, `csrf_token()` gives a
placeholder, and each response gets the visitor's own token, so no token is
ever shared. Pages showing flashed messages are never cached (they are one
visitor's, and reading them consumes them).
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from flask import Flask, current_app, g, session
from flask_wtf.csrf import generate_csrf

from billing import current

# Keys are bounded by the catalog, except for a campaign code typed into a URL.
MAX_PAGES = 256


class PageCache:
    def __init__(self) -> None:
        # Unguessable, so nothing a visitor types can become someone's token.
        self.placeholder = "csrf-" + secrets.token_hex(16)
        self.catalog: object = None
        self.pages: OrderedDict[Hashable, str] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, catalog: object, key: Hashable) -> str | None:
        with self.lock:
            if catalog is not self.catalog:
                self.catalog, self.pages = catalog, OrderedDict()
            page = self.pages.get(key)
            if page is not None:
                self.pages.move_to_end(key)
            return page

    def put(self, key: Hashable, page: str) -> None:
        with self.lock:
            self.pages[key] = page
            while len(self.pages) > MAX_PAGES:
                self.pages.popitem(last=False)


def _cache() -> PageCache:
    cache: PageCache = current_app.extensions["page_cache"]
    return cache


def cacheable() -> bool:
    """Whether this request may be answered with a shared page: no flashes are waiting."""
    return not session.get("_flashes")


def shared(key: Hashable, render: Callable[[], str]) -> str:
    """The page `render()` makes for `key`, rendered once per catalog."""
    cache = _cache()
    page = cache.get(current.catalog(), key)
    if page is None:
        g.rendering_shared_page = True
        try:
            page = render()
        finally:
            g.rendering_shared_page = False
        cache.put(key, page)
    if cache.placeholder in page:
        page = page.replace(cache.placeholder, generate_csrf())
    return page


def csrf_token() -> str:
    """The templates' `csrf_token()`: a placeholder while a shared page is rendered."""
    return _cache().placeholder if g.get("rendering_shared_page") else generate_csrf()


def init_app(app: Flask) -> None:
    """After CSRFProtect, whose `csrf_token` (a template global, and a context
    processor that would win over it) this replaces."""
    app.extensions["page_cache"] = PageCache()
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.context_processor(lambda: {"csrf_token": csrf_token})
