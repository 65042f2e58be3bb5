"""Pages that are the same for every visitor in the same situation, rendered once
and then served from memory: the pricing page seen by anyone not signed in is the
most visited page a merchant has, and it only changes with the catalog.

The cache belongs to the catalog it was rendered from: a new catalog object
starts an empty one, so no page outlives the prices it shows. A cached page may
hold forms (plug-ins add some): while it is rendered, `csrf_token()` gives a
placeholder, and each response gets the visitor's own token, so no token is
ever shared. Pages showing flashed messages are never cached (they are one
visitor's, and reading them consumes them).

A page with no form left in it (no placeholder) is the same for every visitor
who sends no cookie: `shared` tells billing.answer_cache to keep the whole answer.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Hashable

from flask import Flask, current_app, g, session
from flask_wtf.csrf import generate_csrf

from billing import answer_cache, current

# Where Flask-WTF keeps the token it made for this request (its WTF_CSRF_FIELD_NAME).
CSRF_IN_G = "csrf_token"


class PageCache(answer_cache.CatalogStore):
    def __init__(self) -> None:
        super().__init__()
        # Unguessable, so nothing a visitor types can become someone's token.
        self.placeholder = "csrf-" + secrets.token_hex(16)


def _cache() -> PageCache:
    cache: PageCache = current_app.extensions["page_cache"]
    return cache


def cacheable() -> bool:
    """Whether this request may be answered with a shared page: no flashes are waiting."""
    return not session.get("_flashes")


def shared(key: Hashable, render: Callable[[], str]) -> str:
    """The page `render()` makes for `key`, rendered once per catalog."""
    cache = _cache()
    page: str | None = cache.get(current.catalog(), key)
    if page is None:
        had_token = CSRF_IN_G in g
        g.rendering_shared_page = True
        try:
            page = render()
        finally:
            g.rendering_shared_page = False
        if not had_token and CSRF_IN_G in g:
            # A real token was rendered (a FlaskForm's hidden_tag() calls Flask-WTF itself):
            # this page is this visitor's alone.
            return page
        cache.put(key, page)
    if cache.placeholder in page:
        page = page.replace(cache.placeholder, generate_csrf())
    else:
        answer_cache.keep_for_everyone()
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
