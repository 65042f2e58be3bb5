"""An SDK HTTP client that hands requests to the stand-in's WSGI app, no socket.

`StripeClient(key, http_client=stand_in.http_client(), base_addresses={"api": any_url})`
then reaches the stand-in directly: no port, no thread, nothing to clean up,
and it works inside a network namespace without even a loopback device. The
SDK's own retry loop (`request_with_retries`) still runs on top, so
`max_network_retries` and idempotency keys behave as against Stripe.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import stripe
from werkzeug.test import Client
from werkzeug.wrappers import Response

# The connection faults `StandIn.fail_next` can inject; this client acts them out.
CONNECTION_FAULTS = ("refused", "reset", "timeout")
# Set by the in-process client on a request it answers itself with a timeout,
# so that the stand-in does not make it wait for its `latency` as well.
SKIP_LATENCY = "standin.skip_latency"


class Server(Protocol):
    """What the client uses of the `StandIn` it calls.

    A protocol rather than the class, so that `server.py` can import this
    module without this module importing it back.
    """

    latency: float

    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]: ...

    def take_connection_fault(self, method: str, path: str) -> str | None: ...


class CaseInsensitiveHeaders(Mapping[str, str]):
    """Response headers the SDK may look up in any case ("stripe-should-retry")."""

    def __init__(self, headers: Iterable[tuple[str, str]]) -> None:
        self._headers = {name.lower(): (name, value) for name, value in headers}

    def __getitem__(self, name: str) -> str:
        return self._headers[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._headers.values())

    def __len__(self) -> int:
        return len(self._headers)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._headers


def connection_error(message: str) -> stripe.APIConnectionError:
    """What the SDK's clients raise when the connection fails: retried by the SDK."""
    return stripe.APIConnectionError(message, should_retry=True)  # type: ignore[no-untyped-call]


class InProcessHTTPClient(stripe.HTTPClient):
    """Calls the stand-in in-process; the host part of every URL is ignored.

    Connection faults (`StandIn.fail_next(..., fault=...)`, or a `latency` above
    `timeout`) raise what the SDK's own clients raise: APIConnectionError, which
    the SDK retries with the same Idempotency-Key."""

    name = "standin-in-process"

    def __init__(self, stand_in: Server, timeout: float = 80.0) -> None:
        super().__init__()
        self._stand_in = stand_in
        self._timeout = timeout
        self._client = Client(stand_in.wsgi_app, response_wrapper=Response)

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        parts = urlsplit(url)
        fault = self._stand_in.take_connection_fault(method.upper(), parts.path)
        if fault == "refused":
            raise connection_error("Could not connect to Stripe: connection refused (injected by the stand-in).")
        too_slow = fault == "timeout" or self._stand_in.latency > self._timeout
        response = self._client.open(
            parts.path,
            method=method.upper(),
            query_string=parts.query,
            headers=list((headers or {}).items()),
            data=post_data,
            environ_overrides={SKIP_LATENCY: True} if too_slow else None,
        )
        if too_slow:
            # Stripe handled the request; its answer would come after the client gave up.
            time.sleep(self._timeout)
            raise connection_error(
                f"Request to Stripe timed out after {self._timeout:g} s (the stand-in's answer was slower)."
            )
        if fault == "reset":
            raise connection_error("Connection to Stripe reset before the answer arrived (injected by the stand-in).")
        return response.get_data(as_text=True), response.status_code, CaseInsensitiveHeaders(response.headers.items())

    def close(self) -> None:
        """Nothing to close: there is no connection."""
