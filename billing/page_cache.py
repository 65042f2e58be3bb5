"""Pages that are the same for every visitor in the same situation, rendered once
and then served from memory: the pricing page seen by anyone not signed in is the
most visited page a merchant has, and it only changes with the catalog.

The cache belongs to the catalog it was rendered from: a new catalog object
starts an empty one, so no page outlives the prices it shows. A cached page may
hold forms (plug-ins add some): while it is rendered, `csrf_token()` gives a
placeholder, and each response gets the visitor's own token, so no token is
ever shared. Pages showing flashed messages are never cached (they are one
visitor's, and reading them consumes them).

A visitor who sends no cookie has no session, so nothing of theirs can be on such
a page: when it holds no form either, the whole answer (status, headers, bytes) is
kept, and the next cookie-less GET of the same address is answered from memory
before Flask runs (`AnswerFromMemory`), as a cache in front of the site would.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g, request, session
from flask_wtf.csrf import generate_csrf

from billing import current

# Keys are bounded by the catalog, except for a campaign code (or any query) typed into a URL.
MAX_PAGES = 256
# Where Flask-WTF keeps the token it made for this request (its WTF_CSRF_FIELD_NAME).
CSRF_IN_G = "csrf_token"
# Set in the WSGI environ by `shared` when the page is the same for every cookie-less visitor.
SAME_FOR_EVERYONE = "page_cache.same_for_everyone"


@dataclass(frozen=True)
class Answer:
    status: str
    headers: list[tuple[str, str]]
    body: bytes


class PageCache:
    def __init__(self) -> None:
        # Unguessable, so nothing a visitor types can become someone's token.
        self.placeholder = "csrf-" + secrets.token_hex(16)
        self.catalog: object = None
        self.pages: OrderedDict[Hashable, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, catalog: object, key: Hashable) -> Any:
        with self.lock:
            if catalog is not self.catalog:
                self.catalog, self.pages = catalog, OrderedDict()
            page = self.pages.get(key)
            if page is not None:
                self.pages.move_to_end(key)
            return page

    def put(self, key: Hashable, page: Any) -> None:
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
        request.environ[SAME_FOR_EVERYONE] = True
    return page


class AnswerFromMemory:
    """WSGI, in front of Flask: a cookie-less GET of a page `shared` marked the same for
    everyone is answered with the bytes kept from the first such answer."""

    def __init__(self, app: Flask, wsgi_app: Any) -> None:
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("HTTP_COOKIE"):
            return self.wsgi_app(environ, start_response)  # type: ignore[no-any-return]
        cache: PageCache = self.app.extensions["page_cache"]
        catalog, key = self.app.extensions["catalog"], ("answer", environ.get("PATH_INFO"), environ.get("QUERY_STRING"))
        kept: Answer | None = cache.get(catalog, key)
        if kept is not None:
            start_response(kept.status, kept.headers)
            return [kept.body]
        seen: list[Any] = []

        def keep_status(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen[:] = [status, headers]
            return start_response(status, headers, exc_info)

        result = self.wsgi_app(environ, keep_status)  # Flask has run the view by now
        status, headers = seen or ("", [])
        if not environ.get(SAME_FOR_EVERYONE) or not status.startswith("200 ") or _sets_cookie(headers):
            return result  # type: ignore[no-any-return]
        body = b"".join(result)
        getattr(result, "close", lambda: None)()
        cache.put(key, Answer(status, list(headers), body))
        return [body]


def _sets_cookie(headers: list[tuple[str, str]]) -> bool:
    return any(name.lower() == "set-cookie" for name, _ in headers)


def csrf_token() -> str:
    """The templates' `csrf_token()`: a placeholder while a shared page is rendered."""
    return _cache().placeholder if g.get("rendering_shared_page") else generate_csrf()


def init_app(app: Flask) -> None:
    """After CSRFProtect, whose `csrf_token` (a template global, and a context
    processor that would win over it) this replaces."""
    app.extensions["page_cache"] = PageCache()
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.context_processor(lambda: {"csrf_token": csrf_token})
    app.wsgi_app = AnswerFromMemory(app, app.wsgi_app)  # type: ignore[method-assign]
