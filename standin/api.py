"""The request pipeline every `/v1/...` endpoint goes through.

In order, as Stripe does it: decode the bracket-encoded params, record the
request (for tests), check the API key, answer an injected failure (for
tests), replay an idempotent POST, validate the params against the SDK's
TypedDict, run the handler, expand what `expand[]` asked for. The handlers in
`resources.py`, `portal.py` and `clocks.py` only see validated, typed params
and return a Stripe object; they raise `StripeError` to refuse. Each of those
modules declares its routes on its own blueprint, which `server.py` registers;
this module holds what they share and knows the server only as an `Account`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from standin import objects
from standin.encoding import EncodingError, decode
from standin.errors import RESOURCE_MISSING, StripeError, invalid, missing
from standin.state import State, StripeObject
from standin.validate import ParamError, check_schema, validate

# Fields that Stripe leaves out of an object unless asked for with expand[].
_INCLUDABLE = {"checkout.session": ("line_items",), "coupon": ("applies_to",)}
_INCLUDABLE_FIELDS = {field for fields in _INCLUDABLE.values() for field in fields}

Handler = Callable[..., StripeObject]
H = TypeVar("H", bound=Handler)


class Account(Protocol):
    """What the pipeline and the handlers use of the `StandIn` serving a request.

    A protocol rather than the class, so that this module stays below
    `server.py`, which imports the handlers built on it.
    """

    public_url: str
    state: State

    def take_failure(self, method: str, path: str) -> StripeError | None: ...

    def record(self, method: str, path: str, params: dict[str, Any], headers: dict[str, str], status: int) -> None: ...


def install(app: Flask, account: Account) -> None:
    """Serve `app`'s requests from `account`: it is what `standin()` returns."""
    app.extensions["standin"] = account
    app.register_error_handler(NotFound, _unrecognized)
    app.register_error_handler(MethodNotAllowed, _unrecognized)


def _unrecognized(error: HTTPException) -> Response | HTTPException:
    """Stripe's JSON answer to a `/v1/...` request no endpoint serves (an unknown path, or a
    method the path does not take), quoted from Stripe's answers, e.g.
    https://github.com/devgpt-labs/devgpt/issues/70 (GET) and
    https://github.com/stripe/stripe-dotnet/issues/821 (POST). Other paths keep the HTML error."""
    if not request.path.startswith("/v1/"):
        return error
    body = StripeError(
        404,
        f"Unrecognized request URL ({request.method}: {request.path}). "
        "Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
    ).body()
    return current_app.response_class(json.dumps(body, indent=2) + "\n", status=404, mimetype="application/json")


def standin() -> Account:
    return cast(Account, current_app.extensions["standin"])


def endpoint(params_type: type) -> Callable[[H], H]:
    """Run a handler behind the pipeline, validating its params against `params_type`."""
    check_schema(params_type)  # an unresolvable SDK type fails at import, not per request

    def decorate(handler: H) -> H:
        @functools.wraps(handler)
        def view(**url_args: str) -> Response:
            stand_in = standin()
            with stand_in.state.lock:
                raw, status, body, replayed = _serve(stand_in, params_type, handler, url_args)
                stand_in.record(request.method, request.path, raw, dict(request.headers), status)
            response = current_app.response_class(
                json.dumps(body, indent=2) + "\n", status=status, mimetype="application/json"
            )
            response.headers["Request-Id"] = objects.new_id("req_", 14)
            response.headers["Stripe-Version"] = request.headers.get("Stripe-Version", "")
            if replayed:
                response.headers["Idempotent-Replayed"] = "true"
            response.headers.update(g.pop("injected_headers", {}))
            return response

        return cast(H, view)

    return decorate


def _serve(
    stand_in: Account, params_type: type, handler: Handler, url_args: dict[str, str]
) -> tuple[dict[str, Any], int, dict[str, Any], bool]:
    """Answer one API request: (decoded params, status, JSON body, replayed from the idempotency store?)."""
    pairs = request.args.items(multi=True) if request.method in ("GET", "DELETE") else request.form.items(multi=True)
    malformed: StripeError | None = None
    try:
        raw = decode(pairs)
    except EncodingError as error:
        raw, malformed = {}, invalid(error.message, error.param)
    if malformed is not None:
        return raw, malformed.status, malformed.body(), False

    auth_error = _check_api_key(request.headers.get("Authorization", ""))
    if auth_error is not None:
        return raw, auth_error.status, auth_error.body(), False

    injected = stand_in.take_failure(request.method, request.path)
    if injected is not None:
        # Injected faults stand for a server failing before the request ran, so
        # (as at Stripe) nothing is stored under the idempotency key.
        g.injected_headers = injected.headers
        return raw, injected.status, injected.body(), False

    key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
    fingerprint = _fingerprint(request.path, raw)
    if key is not None and key in stand_in.state.idempotency:
        stored = stand_in.state.idempotency[key]
        if stored["fingerprint"] != fingerprint:
            conflict = StripeError(
                400,
                "Keys for idempotent requests can only be used with the same parameters "
                "they were first used with. Try using a key other than "
                f"'{key}' if you meant to execute a different request.",
                type="idempotency_error",
            )
            return raw, conflict.status, conflict.body(), False
        return raw, stored["status"], copy.deepcopy(stored["body"]), True

    try:
        params = validate(raw, params_type)
    except ParamError as error:
        # A request that fails validation never ran: it is not stored either.
        return raw, 400, invalid(error.message, error.param, error.code).body(), False

    too_deep = _too_deep(params.get("expand", []))
    if too_deep is not None:
        # Refused before the handler runs: Stripe answers the whole request with the error.
        return raw, too_deep.status, too_deep.body(), False

    try:
        status, body = 200, render(stand_in.state, handler(params, **url_args), params.get("expand", []))
    except StripeError as error:
        status, body = error.status, error.body()
    if key is not None:
        stand_in.state.idempotency[key] = {"fingerprint": fingerprint, "status": status, "body": body}
    if request.method in ("POST", "DELETE"):
        stand_in.state.save()
    # `render` made `body` afresh; only the stored copy must not share it (a page of 100
    # expanded subscriptions costs a deep copy of ~1 MB otherwise).
    return raw, status, body if key is None else copy.deepcopy(body), False


def _check_api_key(authorization: str) -> StripeError | None:
    """Accept any test-mode secret or restricted key, as a Stripe test account would.

    Stripe takes the key by HTTP Basic auth (the key as the username, no
    password: `curl -u sk_test_...:`) or as a Bearer token
    (https://docs.stripe.com/api/authentication).
    """
    scheme, _, credentials = authorization.partition(" ")
    key = _basic_username(credentials) if scheme.lower() == "basic" else credentials
    if scheme.lower() not in ("bearer", "basic") or not key:
        return StripeError(
            401,
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        )
    if not key.startswith(("sk_test_", "rk_test_")):
        return StripeError(401, f"Invalid API Key provided: {mask_key(key)}")
    return None


def _basic_username(credentials: str) -> str:
    """The username of HTTP Basic credentials (base64 of "user:password"), "" if unreadable."""
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[0]


def mask_key(key: str) -> str:
    """An API key as Stripe shows it in "Invalid API Key provided": its first 8 and last 4
    characters, a `*` for each one between (`sk_test_********************1234`; e.g.
    "pk_test_****...****fyDZ" in https://github.com/flutter-stripe/flutter_stripe/issues/2171
    and "pi_1PiXF****...****zlzo" in https://github.com/flutter-stripe/flutter_stripe/issues/1877).
    A key of 12 characters or fewer keeps only its first 8 (fewer if shorter, never all of it),
    so no character is shown twice and a short key is never shown whole."""
    head = key[: min(8, len(key) // 2)] if len(key) <= 12 else key[:8]
    tail = key[-4:] if len(key) > 12 else ""
    return head + "*" * (len(key) - len(head) - len(tail)) + tail


def _fingerprint(path: str, params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([path, params], sort_keys=True).encode()).hexdigest()


# "Expansions have a maximum depth of four levels", counting the `data` a list's paths start
# with (https://docs.stripe.com/api/expanding_objects): data.customer.invoice_settings.
# default_payment_method is the deepest a subscription list may ask for.
MAX_EXPAND_DEPTH = 4


def _too_deep(expand: list[str]) -> StripeError | None:
    """Stripe's 400 for an expansion deeper than four levels. The wording and the code are
    Stripe's answer as quoted in https://github.com/stripe/stripe-java/issues/2011 and in
    projects' notes ("You cannot expand more than 4 levels of a property. Property:
    data.items.data.price.product", code `property_expansion_max_depth`); no quote shows a
    `param` or a `doc_url`, so none is added."""
    for path in expand:
        if len(path.split(".")) > MAX_EXPAND_DEPTH:
            return StripeError(
                400,
                f"You cannot expand more than {MAX_EXPAND_DEPTH} levels of a property. Property: {path}",
                code="property_expansion_max_depth",
                with_doc_url=False,
            )
    return None


def render(state: State, obj: StripeObject, expand: list[str]) -> StripeObject:
    """A copy of `obj` for the wire: includable fields only if asked for, `expand` paths filled in."""
    result = _strip(obj, set(expand))
    for index, path in enumerate(expand):
        if path.split(".")[-1] in _INCLUDABLE_FIELDS:
            continue  # kept by _strip, nothing to look up
        result = _expand(state, result, path.split("."), path, f"expand[{index}]")
    return result


def _strip(obj: StripeObject, keep: set[str]) -> StripeObject:
    """A deep copy of `obj` without the includable fields not named in `keep`.

    Fields whose name starts with "_" are the stand-in's private notes on an
    object (e.g. what a checkout session will create) and are always dropped.
    """
    result = {key: copy.deepcopy(value) for key, value in obj.items() if not key.startswith("_")}
    if result.get("object") == "list":
        inner = {path.removeprefix("data.") for path in keep}
        result["data"] = [_strip(item, inner) for item in result["data"]]
        return result
    for field in _INCLUDABLE.get(result.get("object", ""), ()):
        if field not in keep:
            result.pop(field, None)
    return result


def _expand(state: State, value: Any, segments: list[str], path: str, param: str) -> Any:
    """Replace the id(s) at `segments` inside `value` by the objects (lists are walked through)."""
    if isinstance(value, list):
        return [_expand(state, item, segments, path, param) for item in value]
    head, *rest = segments
    if not isinstance(value, dict) or head not in value:
        raise invalid(f"This property cannot be expanded ({path}).", param)
    field = value[head]
    if field is None:
        return value  # an empty expandable field stays null, as on Stripe
    if rest:
        value[head] = _expand(state, _load(state, field), rest, path, param)
    elif _expandable(state, field):
        value[head] = _load(state, field)
    else:
        raise invalid(f"This property cannot be expanded ({path}).", param)
    return value


def _load(state: State, field: Any) -> Any:
    if isinstance(field, list):
        return [_load(state, item) for item in field]
    if isinstance(field, str) and field in state.objects:
        return _strip(state.objects[field], set())
    return field


def _expandable(state: State, field: Any) -> bool:
    """An id of a stored object (or a list of them), or an object already expanded."""
    if isinstance(field, list):
        return all(_expandable(state, item) for item in field)
    return isinstance(field, dict) or (isinstance(field, str) and field in state.objects)


# -- Helpers for handlers ---------------------------------------------------


def state() -> State:
    return standin().state


def find(kind: str, object_id: str, param: str | None = None) -> StripeObject:
    """The stored object, or Stripe's "No such <kind>" (404 by URL, 400 by param).

    A deleted object (a customer, which Stripe still retrieves as a stub) is
    no longer found: it cannot be used or changed.
    """
    obj = state().get(object_id, kind)
    if obj is None or obj.get("deleted"):
        raise missing(kind.split(".")[-1], object_id, param)
    return obj


def paginate(items: list[StripeObject], params: dict[str, Any], url: str) -> StripeObject:
    """A Stripe list object over `items` (newest first), honouring limit and cursors."""
    limit = params.get("limit", 10)
    if not 1 <= limit <= 100:
        raise invalid("Invalid limit: must be between 1 and 100.", "limit")
    ids = [item["id"] for item in items]
    start, end = 0, len(items)
    if "starting_after" in params:
        start = _cursor(ids, params["starting_after"], "starting_after") + 1
    if "ending_before" in params:
        end = _cursor(ids, params["ending_before"], "ending_before")
        start = max(start, end - limit)
    page = items[start:end][:limit]
    if "ending_before" in params and "starting_after" not in params:
        # Paging backwards, `has_more` says whether newer objects remain before this page
        # (https://docs.stripe.com/api/pagination): the SDK's `previous_page()` and a backwards
        # `auto_paging_iter()` stop when it is false.
        return objects.list_object(page, url, has_more=start > 0)
    return objects.list_object(page, url, has_more=start + len(page) < end)


def _cursor(ids: list[str], object_id: str, param: str) -> int:
    if object_id not in ids:
        raise invalid(f"No such object: '{object_id}'", param, code=RESOURCE_MISSING)
    return ids.index(object_id)


def refuse_unsupported(params: dict[str, Any], supported: set[str], prefix: str = "") -> None:
    """Answer 400 for a valid Stripe param the stand-in does not implement.

    Ignoring it would make the stand-in quietly behave unlike Stripe (a list
    filter not applied, a setting not kept); saying so keeps tests honest.
    """
    for key in params:
        if key not in supported:
            name = f"{prefix}[{key}]" if prefix else key
            raise invalid(
                f"The Stripe stand-in does not implement the param {name} "
                "(it is valid for Stripe; extend standin/ to support it).",
                name,
            )


def set_fields(obj: StripeObject, params: dict[str, Any], fields: set[str]) -> None:
    """Copy plain fields from params; an empty string unsets, as on Stripe."""
    for field in fields & params.keys():
        value = params[field]
        if field == "metadata":
            set_metadata(obj, value)
        elif isinstance(value, dict) and isinstance(obj.get(field), dict):
            obj[field].update({key: (None if item == "" else item) for key, item in value.items()})
        else:
            obj[field] = None if value == "" else value


def set_metadata(obj: StripeObject, metadata: dict[str, str] | str) -> None:
    """Merge metadata keys; `""` as a value deletes a key, `metadata=""` clears all."""
    if metadata == "":
        obj["metadata"] = {}
        return
    assert isinstance(metadata, dict)
    for key, value in metadata.items():
        if value == "":
            obj["metadata"].pop(key, None)
        else:
            obj["metadata"][key] = value
