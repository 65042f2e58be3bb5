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
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import redis
from flask import Flask, current_app, has_app_context, request
from flask.sessions import SecureCookieSessionInterface
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
    """This page reads nothing but the request's address and languages, this visitor's
    session, the catalog and the database."""
    request.environ[FOR_THIS_VISITOR] = True


class DataVersion(Protocol):
    """A value that every commit to the database moves on, cheap to read in every
    process that serves the site."""

    def read(self) -> Hashable: ...

    def bump(self) -> None: ...


class FileVersion:
    """For a SQLite database, which only processes on one machine share: a file beside
    it (app.sqlite.version) that every commit appends a byte to. Its size and time are
    the version (one `stat`): appends are atomic, so two commits never leave the same
    size, and when the file starts again from empty its time has moved on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()

    def read(self) -> Hashable:
        found = os.stat(self.path)
        return found.st_size, found.st_mtime_ns

    def bump(self) -> None:
        with open(self.path, "ab") as file:
            file.write(b".")
            if file.tell() > 1 << 20:  # a million commits
                file.truncate(0)


class RedisVersion:
    """For several instances: a value in the Redis they already share for rate limits.
    A new random value at each commit, not a counter, so a Redis emptied or restarted
    cannot bring back a version an old answer was kept under."""

    KEY = "answer_cache:data_version"
    # A page must not wait on a Redis that has stopped answering: ask briefly, and after a
    # failure leave it alone for a few seconds (pages are rendered meanwhile).
    TIMEOUT, REST = 0.1, 5.0

    def __init__(self, url: str) -> None:
        self.redis = redis.Redis.from_url(url, socket_timeout=self.TIMEOUT, socket_connect_timeout=self.TIMEOUT)
        self.resting_until = 0.0

    def read(self) -> Hashable:
        value: bytes | None = self._ask(lambda: self.redis.get(self.KEY))
        return value

    def bump(self) -> None:
        self._ask(lambda: self.redis.set(self.KEY, secrets.token_hex(8)))

    def _ask(self, command: Callable[[], Any]) -> Any:
        if time.monotonic() < self.resting_until:
            raise redis.ConnectionError("Redis failed a moment ago")
        try:
            return command()
        except redis.RedisError:
            self.resting_until = time.monotonic() + self.REST
            raise


def data_version(settings: Settings, instance_path: Path) -> DataVersion | None:
    """Where this deployment's processes can all see that the data changed; None when
    nothing tells them (PostgreSQL without Redis may be served from several machines):
    then no one-visitor answer is kept."""
    if urlsplit(settings.ratelimit_storage_uri).scheme in ("redis", "rediss"):
        return RedisVersion(settings.ratelimit_storage_uri)
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        # Where Flask-SQLAlchemy opens it: a relative path is in the instance folder.
        database = instance_path / url.database
        return FileVersion(database.with_name(database.name + ".version"))
    return None


class AnswerCache:
    """WSGI, in front of Flask: replays the answers views asked to keep."""

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]], version: DataVersion | None) -> None:
        self.app, self.wsgi_app, self.version = app, wsgi_app, version
        self.for_everyone = CatalogStore()
        self.for_visitors = CatalogStore(MAX_VISITOR_ANSWERS)
        # The paths whose views asked to keep a visitor's page: only their requests read
        # the version (a stylesheet, a sign-in form never need it).
        self.visitor_paths: set[str] = set()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET":
            return self.wsgi_app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        # What the views read of the request: its address, and (the API-call panels'
        # portal locale) its languages.
        address: Hashable = (path, environ.get("QUERY_STRING"), environ.get("HTTP_ACCEPT_LANGUAGE"))
        key: Hashable
        cookie = environ.get("HTTP_COOKIE")
        if cookie:
            version = self._read_version() if path in self.visitor_paths else None
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
        if environ.get(FOR_THIS_VISITOR):
            self.visitor_paths.add(path)
        status, headers = seen or ("", [])
        if not environ.get(wanted) or not status.startswith("200 ") or _sets_cookie(headers):
            return result
        if cookie and version is None:
            return result  # the first visit to this path, or the version unknown
        try:
            body = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        store.put(key, Answer(status, list(headers), body, time.monotonic()))
        return [body]

    def _read_version(self) -> Hashable | None:
        """The data's version; None when there is none or it cannot be read (then the
        page is rendered, as it cannot be known whether the data changed). Wrapped, as
        Redis answers None before the first commit."""
        if self.version is None:
            return None
        try:
            return ("version", self.version.read())
        except (OSError, redis.RedisError):
            return None


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


def cookie_says_it_all(app: Flask) -> bool:
    """Whether the Cookie header alone says who the visitor is and all their session
    holds: not with sessions kept on the server, nor with Flask-Login's "strong" session
    protection, which ties a session to the visitor's address and browser."""
    login_manager = getattr(app, "login_manager", None)
    if login_manager is None:  # another sign-in than Flask-Login's: it may read more than the cookie
        return False
    protection = app.config.get("SESSION_PROTECTION", login_manager.session_protection)
    return isinstance(app.session_interface, SecureCookieSessionInterface) and protection != "strong"


def init_app(app: Flask, settings: Settings) -> None:
    """After Flask-Login, whose session protection it reads."""
    version = data_version(settings, Path(app.instance_path)) if cookie_says_it_all(app) else None
    cache = app.extensions["answer_cache"] = AnswerCache(app, app.wsgi_app, version)
    app.wsgi_app = cache  # type: ignore[method-assign]
    if not event.contains(db.session, "after_commit", _after_commit):
        event.listen(db.session, "after_commit", _after_commit)
