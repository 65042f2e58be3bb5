"""An SDK HTTP client that hands requests to the stand-in's WSGI app, no socket.

`StripeClient(key, http_client=stand_in.http_client(), base_addresses={"api": any_url})`
then reaches the stand-in directly: no port, no thread, nothing to clean up,
and it works inside a network namespace without even a loopback device. The
SDK's own retry loop (`request_with_retries`) still runs on top, so
`max_network_retries` and idempotency keys behave as against Stripe.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import stripe
from werkzeug.test import Client
from werkzeug.wrappers import Response


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


class InProcessHTTPClient(stripe.HTTPClient):
    """Calls a WSGI app in-process; the host part of every URL is ignored."""

    name = "standin-in-process"

    def __init__(self, wsgi_app: Any) -> None:
        super().__init__()
        self._client = Client(wsgi_app, response_wrapper=Response)

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
        response = self._client.open(
            parts.path,
            method=method.upper(),
            query_string=parts.query,
            headers=list((headers or {}).items()),
            data=post_data,
        )
        return response.get_data(as_text=True), response.status_code, CaseInsensitiveHeaders(response.headers.items())

    def close(self) -> None:
        """Nothing to close: there is no connection."""
