"""`StandIn`: one Stripe test account, its API and its hosted pages, in-process.

The app talks to it exactly as to Stripe: through the SDK, over HTTP
(`python -m standin`) or through `http_client()`, which hands requests
straight to the WSGI app. Tests also use three doors real Stripe does not
have: `requests` (what the app sent), `fail_next` (make Stripe fail) and
`state` (look at or change objects directly). Two knobs make it a busy Stripe:
`latency` (seconds each API answer waits) and `rate_limit` (requests a second,
429 past it); `GET /_standin/stats` counts the API calls it answered.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from standin import api, clocks, events, i18n, limits, objects, pages, portal, previews, resources, schedules
from standin.errors import StripeError
from standin.events import Deliver, Webhooks
from standin.http_client import CONNECTION_FAULTS, SKIP_LATENCY, InProcessHTTPClient
from standin.state import Journal, State

# The stand-in's own counter of API calls (see `StandIn.stats`): outside /v1/, so it
# is neither rate limited, nor delayed, nor counted.
STATS_PATH = "/_standin/stats"
# The two knobs, turned while it runs (`POST` latency=SECONDS&rate_limit=PER_SECOND, an empty
# rate_limit for none): a benchmark seeds a busy day's customers at full speed, then makes
# Stripe slow and limited for the day itself. Also outside /v1/.
LIMITS_PATH = "/_standin/limits"


@dataclass(frozen=True)
class RecordedRequest:
    """One API request as the stand-in received it."""

    method: str
    path: str
    # The decoded params, nested as the client built them; leaves are the wire strings.
    params: dict[str, Any]
    headers: dict[str, str]
    # The HTTP status the stand-in answered (400 for a request that failed validation).
    status: int


@dataclass
class _Failure:
    method: str
    path: str
    # An error answer, or None for a connection fault ("refused", "reset", "timeout").
    error: StripeError | None
    remaining: int = field(default=1)
    fault: str | None = None


class StandIn:
    """A stateful Stripe test double: the API under `/v1`, hosted pages beside it.

    `public_url` is where the hosted pages are reachable from a browser (the
    `url` of Checkout and portal sessions is built from it); `state_file`, if
    given, keeps objects across restarts.
    """

    def __init__(
        self,
        public_url: str = "http://127.0.0.1:12111",
        state_file: str | os.PathLike[str] | None = None,
        rate_limit: float | None = None,
    ) -> None:
        self.public_url = public_url.rstrip("/")
        self.state = State(state_file)
        self.requests: list[RecordedRequest] = []
        self._failures: list[_Failure] = []
        self.webhooks = Webhooks()
        # Seconds every API request waits before it is answered: a slow Stripe.
        self.latency = 0.0
        self.rate_limit = rate_limit
        self._stats = limits.Stats()
        self.flask_app = self._create_app()
        self._urls = self.flask_app.url_map.bind("standin")

    @property
    def rate_limit(self) -> float | None:
        """API requests a second the account may make (None: no limit), as Stripe limits
        them (25 in a sandbox, 100 live); past it, Stripe's 429. Setting it refills the bucket."""
        return self._bucket.rate if self._bucket is not None else None

    @rate_limit.setter
    def rate_limit(self, rate: float | None) -> None:
        self._bucket = limits.TokenBucket(rate) if rate is not None else None

    def _create_app(self) -> Flask:
        app = Flask("standin", static_folder="static", template_folder="templates")
        api.install(app, self)
        i18n.install(app)
        for blueprint in (resources.bp, clocks.bp, portal.bp, schedules.bp, pages.bp, previews.bp):
            app.register_blueprint(blueprint)
        return app

    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """The stand-in as a WSGI app. Every request holds `State.shared()`, so it sees
        what other processes wrote to the state file. A request that may change state (anything
        but GET) runs alone under the state's undo log (`State.track`): what it
        changed becomes webhook events, and if it fails (an error status, or an
        exception) the objects it reached are put back as they were."""
        path = environ.get("PATH_INFO", "")
        if path.startswith("/v1/"):
            admitted = self._admit(environ)
            if self.latency and not environ.get(SKIP_LATENCY):
                # A slow Stripe: before any lock, so slow answers overlap. A 429 waits too:
                # the latency stands for the round trip, and a refusal still needs one (a
                # client cannot learn it was refused sooner). It also keeps a client that
                # retries at once from spinning through thousands of 429s a second.
                time.sleep(self.latency)
            if not admitted:
                return self._answer(limits.rate_limited(), environ, start_response)
        elif path.startswith(STATS_PATH):
            return self._stats_app(environ, start_response)
        elif path == LIMITS_PATH:
            return self._limits_app(environ, start_response)
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            with self.state.shared():  # sees what another process wrote to the state file
                return self.flask_app(environ, start_response)
        journal = self.state.objects.journal
        if journal is not None and journal.thread == threading.get_ident():
            # A request made while this thread's request runs: that one owns the changes.
            return self.flask_app(environ, start_response)
        status: list[str] = []

        def record_status(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            status.append(status_line)
            return start_response(status_line, headers, exc_info)

        with self.state.shared(), self.state.track() as journal:
            try:
                result = self.flask_app(environ, record_status)
                try:
                    body = b"".join(result)
                finally:
                    getattr(result, "close", lambda: None)()
            except BaseException:
                self.state.rollback(journal)
                raise
            if status and int(status[-1].split()[0]) >= 400:
                self.state.rollback(journal)
            else:
                self.settle(journal)
        if self.webhooks.mode == "immediate":
            self.webhooks.deliver()
        return [body]

    def _admit(self, environ: dict[str, Any]) -> bool:
        """Count an API request and take a token for it: False if past the rate limit.
        The token is taken on arrival, as Stripe's limiter counts requests as they come in."""
        admitted = self._bucket is None or self._bucket.take()
        self._stats.count(self._endpoint(environ), rate_limited=not admitted)
        return admitted

    def _endpoint(self, environ: dict[str, Any]) -> str:
        """ "GET /v1/customers/{id}": the request's method and its route, ids left out."""
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            rule, _ = self._urls.match(environ.get("PATH_INFO", ""), method=method, return_rule=True)
        except HTTPException:
            return f"{method} (unrecognized URL)"  # Stripe's 404: counted, without an unbounded key
        return f"{method} {limits.template(rule.rule)}"

    def _answer(self, error: StripeError, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """An API error answered before any handler ran, with the headers Stripe sends on every answer."""
        response = Response(json.dumps(error.body(), indent=2) + "\n", status=error.status, mimetype="application/json")
        response.headers["Request-Id"] = objects.new_id("req_", 14)
        response.headers["Stripe-Version"] = environ.get("HTTP_STRIPE_VERSION", "")
        return response(environ, start_response)

    def stats(self) -> dict[str, Any]:
        """The API requests answered since the start (or the last `reset_stats`), e.g.

            {"total": 3, "rate_limited": 1,
             "requests": {"GET /v1/subscriptions": 2, "POST /v1/customers/{id}": 1},
             "rate_limited_requests": {"GET /v1/subscriptions": 1},
             "since": 1767225600.0, "rate_limit": 25.0, "latency": 0.15}

        Rate-limited requests count in `requests` and `total` too: each was a call made."""
        return {**self._stats.snapshot(), "rate_limit": self.rate_limit, "latency": self.latency}

    def reset_stats(self) -> None:
        self._stats.reset()

    def _stats_app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """`GET /_standin/stats` (the counts) and `POST /_standin/stats/reset` (start again)."""
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        if (method, path) == ("POST", STATS_PATH + "/reset"):
            self.reset_stats()
        elif path != STATS_PATH or method not in ("GET", "HEAD"):
            allowed = "POST" if path == STATS_PATH + "/reset" else "GET"
            status = 405 if path in (STATS_PATH, STATS_PATH + "/reset") else 404
            response = Response(status=status, headers={"Allow": allowed} if status == 405 else {})
            return response(environ, start_response)
        body = json.dumps(self.stats(), indent=2) + "\n"
        return Response(body, mimetype="application/json")(environ, start_response)

    def _limits_app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """`GET /_standin/limits` (the knobs) and `POST` to set them (see LIMITS_PATH)."""
        request = Request(environ)
        if request.method == "POST":
            try:
                latency = float(request.form.get("latency", self.latency))
                rate = request.form.get("rate_limit", "" if self.rate_limit is None else str(self.rate_limit))
                rate_limit = float(rate) if rate.strip() else None
                if not 0 <= latency < float("inf") or (rate_limit is not None and not 0 < rate_limit < float("inf")):
                    raise ValueError
            except ValueError:
                message = "latency is seconds (0 or more), rate_limit requests a second (above 0, or empty: none)\n"
                return Response(message, status=400)(environ, start_response)
            self.latency, self.rate_limit = latency, rate_limit
        elif request.method not in ("GET", "HEAD"):
            return Response(status=405, headers={"Allow": "GET, POST"})(environ, start_response)
        body = json.dumps({"latency": self.latency, "rate_limit": self.rate_limit}) + "\n"
        return Response(body, mimetype="application/json")(environ, start_response)

    def settle(self, journal: Journal) -> None:
        """Finish what a request changed (or a test, under `state.track()`): give new
        invoices their hosted page and queue the events the changes make."""
        before, after = self.state.changes(journal)
        hosted = False
        for object_id, obj in after.items():
            # Every finalized invoice has a hosted page where it can be paid
            # (https://docs.stripe.com/invoicing/hosted-invoice-page); here it is `/i/<id>`.
            if obj.get("object") == "invoice" and obj["status"] != "draft" and not obj["hosted_invoice_url"]:
                obj["hosted_invoice_url"] = f"{self.public_url}/i/{object_id}"
                hosted = True
        if hosted:
            self.state.save()  # the request saved before: other processes must see the pages too
        self.webhooks.add(events.changes(before, after))

    def configure_webhooks(
        self, secret: str, deliver: Deliver | None = None, url: str | None = None, mode: str = "immediate"
    ) -> Webhooks:
        """Send events, signed with `secret`, to a callable (in-process) or a URL.
        `mode`: "immediate", "queued" (sent by `deliver_webhooks()`) or "off"."""
        self.webhooks.secret, self.webhooks.deliver_to, self.webhooks.url = secret, deliver, url
        self.webhooks.mode = mode
        return self.webhooks

    def deliver_webhooks(self, shuffle: random.Random | None = None) -> list[tuple[str, int]]:
        """Send the queued events now (see `events.Webhooks.deliver`)."""
        return self.webhooks.deliver(shuffle)

    def http_client(self, timeout: float = 80.0) -> Any:
        """An SDK HTTP client that calls this stand-in in-process (see `http_client.py`).
        An answer slower than `timeout` seconds (see `latency`) is a timeout, as with the
        SDK's own clients (whose default is 80 s)."""
        return InProcessHTTPClient(self, timeout)

    def record(self, method: str, path: str, params: dict[str, Any], headers: dict[str, str], status: int) -> None:
        self.requests.append(RecordedRequest(method, path, params, headers, status))

    def clear_requests(self) -> None:
        self.requests.clear()

    def fail_next(
        self,
        method: str,
        path: str,
        status: int = 500,
        error_type: str = "api_error",
        message: str = "Something went wrong on Stripe's end (injected by the stand-in).",
        code: str | None = None,
        count: int = 1,
        headers: dict[str, str] | None = None,
        fault: str | None = None,
    ) -> None:
        """Answer the next `count` requests to `method path...` (a path prefix) with
        this error (and these headers, e.g. {"Stripe-Should-Retry": "true"}).

        With `fault`, the connection fails instead, as seen by `http_client()`:
        "refused" (Stripe never sees the request), "reset" (Stripe handles it, the
        answer is lost) or "timeout" (Stripe handles it, the answer comes after the
        client's timeout)."""
        if fault is not None:
            if fault not in CONNECTION_FAULTS:
                raise ValueError(f"fault must be one of {CONNECTION_FAULTS}")
            self._failures.append(_Failure(method.upper(), path, None, count, fault))
            return
        error = StripeError(status, message, type=error_type, code=code, headers=headers)
        self._failures.append(_Failure(method.upper(), path, error, count))

    def recover(self) -> None:
        """Stripe is back: drop every injected error not yet used, and any added latency."""
        self._failures.clear()
        self.latency = 0.0

    def take_failure(self, method: str, path: str) -> StripeError | None:
        """The injected error answer for this request, if any, counting it as used."""
        failure = self._take(method, path, connection=False)
        return failure.error if failure else None

    def take_connection_fault(self, method: str, path: str) -> str | None:
        """The injected connection fault for this request, if any, counting it as used."""
        failure = self._take(method, path, connection=True)
        return failure.fault if failure else None

    def _take(self, method: str, path: str, connection: bool) -> _Failure | None:
        for failure in self._failures:
            if failure.method == method and path.startswith(failure.path) and (failure.fault is not None) == connection:
                failure.remaining -= 1
                if failure.remaining == 0:
                    self._failures.remove(failure)
                return failure
        return None
