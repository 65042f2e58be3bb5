"""Stripe-shaped API errors.

Stripe answers every failure with `{"error": {"type", "message", "param", "code"}}`
and a status the SDK maps to an exception class (400 -> InvalidRequestError,
401 -> AuthenticationError, 402 -> CardError, 404 -> InvalidRequestError with
code `resource_missing`, 5xx -> APIError). Raising `StripeError` anywhere in a
handler produces exactly that answer.
"""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    """An error the API answers to the client, shaped like Stripe's."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",  # noqa: A002 - Stripe's field name
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        # Extra response headers, e.g. Stripe-Should-Retry on an injected 429.
        self.headers = headers or {}
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        if self.code is not None:
            error["code"] = self.code
        return {"error": error}


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    """A 400 invalid_request_error: the request is well-formed but not acceptable."""
    return StripeError(400, message, param=param, code=code)


def missing(kind: str, object_id: str, param: str | None = None) -> StripeError:
    """A 404 for an id that does not exist, worded as Stripe words it."""
    return StripeError(
        404 if param is None else 400,
        f"No such {kind}: '{object_id}'",
        param=param or "id",
        code="resource_missing",
    )
