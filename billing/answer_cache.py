"""Whole answers kept in memory and replayed before Flask runs, as a cache in
front of the site would: the pages are the most requested thing a merchant
serves, and most requests for them would render the same bytes again.

Two kinds of answers are kept, each only when the view asked for it, it was a
200 and it set no cookie (an answer that changed the visitor's session, such as
one that showed a flashed message, is never replayed):

  - for everyone: a page the same for every visitor who sends no cookie (the
    pricing page: `page_cache.shared` marks it), kept per address for the
    catalog's life;
  - for one visitor: a page that shows one customer's records (the account
    page), kept per address and exact Cookie header, and replayed only while
    the database has not changed since it was rendered (`DataVersion`: every
    commit, in any process, moves it on) and for at most VISITOR_SECONDS.

The Cookie header is how Flask itself knows the visitor (the session cookie is
signed), so an answer for one visitor is only replayed to whoever presents that
same cookie: to them Flask would have said the same.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import redis
from flask import Flask, current_app, has_app_context, request
from sqlalchemy import event, make_url

from billing.models import db
from billing.settings import Settings

# Set in the WSGI environ by the view (see keep_for_everyone, keep_for_this_visitor).
FOR_EVERYONE = "answer_cache.for_everyone"
FOR_THIS_VISITOR = "answer_cache.for_this_visitor"
# A bound on what a one-visitor answer can miss that no commit announces (a row edited by
# hand in the database), and on the age of the CSRF token it carries (valid for an hour).
VISITOR_SECONDS = 60.0
# Keys are bounded by the catalog, except for a campaign code (or any query) typed into a URL.
MAX_ANSWERS = 256
# Answers kept per process: a few per visitor who came back within the minute.
MAX_VISITOR_ANSWERS = 512


@dataclass(frozen=True)
class Answer:
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    kept_at: float


class CatalogStore:
    """At most `size` things, least recently used out first, all forgotten when the
    catalog object changes: nothing rendered outlives the prices it shows."""

    def __init__(self, size: int = MAX_ANSWERS) -> None:
        self.size = size
        self.catalog: object = None
        self.items: OrderedDict[Hashable, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, catalog: object, key: Hashable) -> Any:
        with self.lock:
            if catalog is not self.catalog:
                self.catalog, self.items = catalog, OrderedDict()
            item = self.items.get(key)
            if item is not None:
                self.items.move_to_end(key)
            return item

    def put(self, key: Hashable, item: Any) -> None:
        with self.lock:
            self.items[key] = item
            while len(self.items) > self.size:
                self.items.popitem(last=False)


def keep_for_everyone() -> None:
    """This page is the same for every visitor who sends no cookie."""
    request.environ[FOR_EVERYONE] = True


def keep_for_this_visitor() -> None:
    """This page reads nothing but this visitor's session and the database."""
    request.environ[FOR_THIS_VISITOR] = True


class DataVersion(Protocol):
    """A value that every commit to the database moves on, cheap to read in every
    process that serves the site."""

    def read(self) -> Hashable: ...

    def bump(self) -> None: ...


class FileVersion:
    """For a SQLite database, which only processes on one machine share: a file beside
    it (app.sqlite.version) that every commit appends a byte to. Its size and time are the version (one
    `stat`); appends are atomic, so no two commits can leave the same size."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()

    def read(self) -> Hashable:
        found = os.stat(self.path)
        return found.st_size, found.st_mtime_ns

    def bump(self) -> None:
        with open(self.path, "ab") as file:
            file.write(b".")
            if file.tell() > 1 << 20:  # a million commits: start again (the time moves on)
                file.truncate(0)


class RedisVersion:
    """For several instances: a counter in the Redis they already share for rate limits."""

    KEY = "answer_cache:data_version"

    def __init__(self, url: str) -> None:
        self.redis = redis.Redis.from_url(url, socket_timeout=1.0)

    def read(self) -> Hashable:
        value: bytes | None = self.redis.get(self.KEY)  # type: ignore[assignment]  # sync client
        return value

    def bump(self) -> None:
        self.redis.incr(self.KEY)


def data_version(settings: Settings) -> DataVersion | None:
    """Where this deployment's processes can all see that the data changed; None when
    nothing tells them (PostgreSQL without Redis may be served from several machines):
    then no one-visitor answer is kept."""
    if settings.ratelimit_storage_uri.startswith("redis"):
        return RedisVersion(settings.ratelimit_storage_uri)
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return FileVersion(Path(url.database).with_name(Path(url.database).name + ".version"))
    return None


class AnswerCache:
    """WSGI, in front of Flask: replays the answers views asked to keep."""

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]], version: DataVersion | None) -> None:
        self.app, self.wsgi_app, self.version = app, wsgi_app, version
        self.for_everyone = CatalogStore()
        self.for_visitors = CatalogStore(MAX_VISITOR_ANSWERS)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET":
            return self.wsgi_app(environ, start_response)
        address: Hashable = (environ.get("PATH_INFO"), environ.get("QUERY_STRING"))
        key: Hashable
        cookie = environ.get("HTTP_COOKIE")
        if cookie:
            version = self._read_version()
            if version is None:
                return self.wsgi_app(environ, start_response)
            store, key, wanted = self.for_visitors, (address, cookie, version), FOR_THIS_VISITOR
        else:
            store, key, wanted = self.for_everyone, address, FOR_EVERYONE
        catalog = self.app.extensions["catalog"]
        kept: Answer | None = store.get(catalog, key)
        if kept is not None and (store is self.for_everyone or time.monotonic() - kept.kept_at < VISITOR_SECONDS):
            start_response(kept.status, kept.headers)
            return [kept.body]
        seen: list[Any] = []

        def keep_status(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen[:] = [status, headers]
            return start_response(status, headers, exc_info)

        result = self.wsgi_app(environ, keep_status)  # Flask has run the view by now
        status, headers = seen or ("", [])
        if not environ.get(wanted) or not status.startswith("200 ") or _sets_cookie(headers):
            return result
        body = b"".join(result)
        getattr(result, "close", lambda: None)()
        store.put(key, Answer(status, list(headers), body, time.monotonic()))
        return [body]

    def _read_version(self) -> Hashable | None:
        if self.version is None:
            return None
        try:
            return ("version", self.version.read())
        except (OSError, redis.RedisError):
            return None  # not knowing whether the data changed: serve it fresh


def _sets_cookie(headers: list[tuple[str, str]]) -> bool:
    return any(name.lower() == "set-cookie" for name, _ in headers)


def _after_commit(session: Any) -> None:
    if not has_app_context():
        return
    cache: AnswerCache | None = current_app.extensions.get("answer_cache")
    if cache is not None and cache.version is not None:
        try:
            cache.version.bump()
        except (OSError, redis.RedisError):
            current_app.logger.warning("Could not note a database change; kept pages may lag for a minute.")


def init_app(app: Flask, settings: Settings) -> None:
    cache = app.extensions["answer_cache"] = AnswerCache(app, app.wsgi_app, data_version(settings))
    app.wsgi_app = cache  # type: ignore[method-assign]
    if not event.contains(db.session, "after_commit", _after_commit):
        event.listen(db.session, "after_commit", _after_commit)
