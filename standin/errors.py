"""Stripe-shaped API errors.

Stripe answers every failure with `{"error": {"type", "message", "param", "code",
"doc_url"}}` and a status the SDK maps to an exception class (400 -> InvalidRequestError,
401 -> AuthenticationError, 402 -> CardError, 404 -> InvalidRequestError with
code `resource_missing`, 5xx -> APIError). Raising `StripeError` anywhere in a
handler produces exactly that answer.

`code` is one of Stripe's error codes (https://docs.stripe.com/error-codes) where
Stripe gives one; `doc_url` then points at its page. Stripe spells that URL with
hyphens, e.g. `"code": "url_invalid", "doc_url": "https://stripe.com/docs/error-codes/url-invalid"`
(an error body quoted in https://github.com/AntonioErdeljac/next13-ai-saas/issues/40;
the field is documented at https://docs.stripe.com/api/errors).
"""

from __future__ import annotations

from typing import Any

# Stripe's codes for the errors the stand-in raises (https://docs.stripe.com/error-codes).
PARAMETER_MISSING = "parameter_missing"
PARAMETER_UNKNOWN = "parameter_unknown"
PARAMETER_INVALID_INTEGER = "parameter_invalid_integer"
PARAMETERS_EXCLUSIVE = "parameters_exclusive"
RESOURCE_MISSING = "resource_missing"
RESOURCE_ALREADY_EXISTS = "resource_already_exists"
COUPON_EXPIRED = "coupon_expired"


def doc_url(code: str) -> str:
    """The page Stripe links an error code to: `resource_missing` -> .../error-codes/resource-missing."""
    return "https://stripe.com/docs/error-codes/" + code.replace("_", "-")


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
        with_doc_url: bool = True,
    ) -> None:
        super().__init__(message)
        # False for a code Stripe is not known to link to a page of https://docs.stripe.com/error-codes.
        self.with_doc_url = with_doc_url
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
            if self.with_doc_url:
                error["doc_url"] = doc_url(self.code)
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
        code=RESOURCE_MISSING,
    )


def missing_param(param: str) -> StripeError:
    """Stripe's 400 for a required param left out."""
    return invalid(f"Missing required param: {param}.", param, code=PARAMETER_MISSING)


def exclusive(params: str, param: str) -> StripeError:
    """Stripe's 400 for params that may not be given together (`params`: "a, b"; `param`: the one named)."""
    return invalid(f"You may only specify one of these parameters: {params}.", param, code=PARAMETERS_EXCLUSIVE)
