"""Check request params against the Stripe SDK's own TypedDicts.

The SDK ships a TypedDict per endpoint (`stripe.params.CustomerCreateParams`,
`stripe.params.billing_portal.SessionCreateParams`, ...) generated from
Stripe's OpenAPI spec. Validating against them means the stand-in rejects
exactly the requests real Stripe would reject for an unknown key, a missing
key or a bad enum value, without the stand-in keeping its own copy of the API.

Three details of how the SDK writes these types shape this module:

- Nested TypedDicts are forward references (`NotRequired["SessionCreateParamsFlowData"]`),
  so a generic type checker that cannot resolve them silently skips them.
  Here every name is resolved in the namespace of the module that defined the
  TypedDict, and a name that does not resolve raises `SchemaError`: a hole in
  the validator is a bug, never a pass.
- Enums are `Union[Literal["a", "b"], str]` (the `str` lets old SDKs accept
  new values). Checking the type alone would let any string through, so
  when a union has Literal members the value must be one of them; the `str`
  member only counts when the only literal is `''` ("send '' to unset").
- Every endpoint's TypedDict inherits `RequestOptions` (api_key,
  idempotency_key, ...). Those are client options that never go on the wire,
  so they are not accepted as params.

Values arrive as strings (see `encoding.py`); a successful validation returns
the params converted to Python types (ints, bools, floats, lists) so that the
API handlers never parse strings themselves.
"""

from __future__ import annotations

import decimal
import functools
import sys
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any, ForwardRef, Literal, NotRequired, Required, Union, cast

import typing_extensions
from stripe._request_options import RequestOptions
from stripe._stripe_object import UntypedStripeObject

from standin.encoding import bracket
from standin.errors import PARAMETER_INVALID_INTEGER, PARAMETER_MISSING, PARAMETER_UNKNOWN

Path = tuple[str | int, ...]

# Client-side options inherited by every params TypedDict; never wire params.
_REQUEST_OPTIONS: Mapping[str, Any] = RequestOptions.__annotations__


class ParamError(Exception):
    """The request does not match the endpoint's params type (answered as a 400)."""

    def __init__(self, param: str, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.message = message
        # Stripe's error code, where it gives one (see errors.py).
        self.code = code


class SchemaError(Exception):
    """The validator cannot understand a params type: a bug to fix, not a bad request."""


def validate(params: Mapping[str, Any], params_type: type) -> dict[str, Any]:
    """Check decoded wire params against `params_type`; return them typed.

    Raises ParamError naming the first offending param in Stripe's bracket
    form, or SchemaError if `params_type` contains a name that cannot be resolved.
    """
    result = _check_typeddict(params, params_type, ())
    assert isinstance(result, dict)
    return result


def check_schema(params_type: type) -> None:
    """Resolve every type reachable from `params_type`, raising SchemaError on a hole.

    The stand-in calls this for each endpoint when it starts, so an SDK upgrade
    that breaks resolution fails loudly at once rather than on the first request.
    """
    seen: set[type] = set()
    pending: list[Any] = [params_type]
    while pending:
        tp = pending.pop()
        if _is_typeddict(tp):
            if tp in seen:
                continue
            seen.add(tp)
            pending.extend(field_type for field_type, _ in _fields(tp).values())
        else:
            pending.extend(_type_args(tp))


# -- Reading the TypedDicts -------------------------------------------------


def _is_typeddict(tp: Any) -> bool:
    # The SDK builds its TypedDicts with typing_extensions, which the standard
    # library's `typing.is_typeddict` does not recognise on Python 3.11.
    return isinstance(tp, type) and typing_extensions.is_typeddict(tp)


@functools.cache
def _fields(params_type: type) -> dict[str, tuple[Any, bool]]:
    """Map each wire key of a TypedDict to (resolved type, required?)."""
    module = sys.modules[params_type.__module__]
    fields: dict[str, tuple[Any, bool]] = {}
    for name, annotation in params_type.__annotations__.items():
        # Inherited annotations are the very objects RequestOptions declares.
        if _REQUEST_OPTIONS.get(name) is annotation:
            continue
        resolved = _resolve(annotation, module.__dict__, f"{params_type.__name__}.{name}")
        required: frozenset[str] = getattr(params_type, "__required_keys__")  # noqa: B009 - not in `type`'s stubs
        fields[name] = (_unwrap_required(resolved), name in required)
    return fields


def _unwrap_required(tp: Any) -> Any:
    while typing.get_origin(tp) in (NotRequired, Required):
        tp = typing.get_args(tp)[0]
    return tp


def _resolve(tp: Any, namespace: dict[str, Any], where: str) -> Any:
    """Replace every string / ForwardRef inside `tp` by the object it names."""
    if isinstance(tp, str):
        tp = ForwardRef(tp)
    if isinstance(tp, ForwardRef):
        try:
            tp = eval(tp.__forward_arg__, namespace)  # noqa: S307 - SDK source, not input
        except NameError as error:
            raise SchemaError(f"Cannot resolve {error.name!r} in the type of {where}") from error
        return _resolve(tp, namespace, where)
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if not args or origin is Literal:
        return tp
    resolved = tuple(_resolve(arg, namespace, where) for arg in args)
    if origin in (Union, types.UnionType):
        # Rebuilt as typing.Union so that `int | str` and `Union[...]` look alike.
        return cast(Any, Union)[resolved]
    if origin in (NotRequired, Required):
        return origin[resolved[0]]
    if origin in (list, dict):
        return types.GenericAlias(origin, resolved)
    if origin is UntypedStripeObject:
        # The SDK's stand-in for "a dict with these values" on metadata-like params.
        return types.GenericAlias(dict, (str, resolved[0]))
    raise SchemaError(f"Unsupported type {tp!r} in the type of {where}")


def _type_args(tp: Any) -> Iterator[Any]:
    if typing.get_origin(tp) is Literal:
        return iter(())
    return iter(typing.get_args(tp))


# -- Checking values --------------------------------------------------------


def _check(value: Any, tp: Any, path: Path) -> Any:
    if _is_typeddict(tp):
        return _check_typeddict(value, tp, path)
    origin = typing.get_origin(tp)
    if origin is Union:
        return _check_union(value, typing.get_args(tp), path)
    if origin is Literal:
        return _check_union(value, (tp,), path)
    if origin is list:
        return _check_list(value, typing.get_args(tp)[0], path)
    if origin is dict:
        return _check_dict(value, typing.get_args(tp)[1], path)
    if tp is Any:
        return value
    if tp in _SCALARS:
        return _check_scalar(value, tp, path)
    raise SchemaError(f"Unsupported type {tp!r} at {bracket(path)}")


def _check_typeddict(value: Any, params_type: type, path: Path) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ParamError(bracket(path), f"Invalid object: {bracket(path)} must be a hash.")
    fields = _fields(params_type)
    for key in value:
        if key not in fields:
            raise ParamError(
                bracket((*path, key)), f"Received unknown parameter: {bracket((*path, key))}", PARAMETER_UNKNOWN
            )
    for key, (_, required) in fields.items():
        if required and key not in value:
            raise ParamError(
                bracket((*path, key)), f"Missing required param: {bracket((*path, key))}.", PARAMETER_MISSING
            )
    return {key: _check(item, fields[key][0], (*path, key)) for key, item in value.items()}


def _check_union(value: Any, members: tuple[Any, ...], path: Path) -> Any:
    literals: list[Any] = []
    others: list[Any] = []
    for member in members:
        if typing.get_origin(member) is Literal:
            literals.extend(typing.get_args(member))
        elif member is not type(None):  # None is never sent on the wire
            others.append(member)
    if value in [_wire(literal) for literal in literals]:
        return value
    if any(literal != "" for literal in literals):
        # An enum: `str` is in the union only for forward compatibility.
        others = [member for member in others if member is not str]
    errors: list[ParamError] = []
    for member in others:
        try:
            return _check(value, member, path)
        except ParamError as error:
            errors.append(error)
    if errors:
        # Report the member whose shape the value has (a hash for an object, ...).
        return _raise_best(errors, value, others)
    choices = ", ".join(str(literal) for literal in literals if literal != "")
    raise ParamError(bracket(path), f"Invalid {bracket(path)}: must be one of {choices}")


def _raise_best(errors: list[ParamError], value: Any, members: list[Any]) -> typing.NoReturn:
    for error, member in zip(errors, members, strict=False):
        container = _is_typeddict(member) or typing.get_origin(member) in (dict, list)
        if container == isinstance(value, (dict, list)):
            raise error
    raise errors[0]


def _wire(literal: Any) -> str:
    # Literal members are compared with the string the SDK would have sent.
    return str(literal).lower() if isinstance(literal, bool) else str(literal)


def _check_list(value: Any, item_type: Any, path: Path) -> list[Any]:
    if isinstance(value, dict):
        # `decode` keeps a level as a dict when its indices are not 0..n-1.
        raise ParamError(bracket(path), f"Invalid array: {bracket(path)} indices must be 0, 1, 2, ... in order.")
    if not isinstance(value, list):
        raise ParamError(bracket(path), f"Invalid array: {bracket(path)} must be a list.")
    return [_check(item, item_type, (*path, index)) for index, item in enumerate(value)]


def _check_dict(value: Any, value_type: Any, path: Path) -> dict[str, Any]:
    if isinstance(value, list):
        # Keys "0", "1", ... were decoded as a list; for a dict they are just keys.
        value = {str(index): item for index, item in enumerate(value)}
    if not isinstance(value, dict):
        raise ParamError(bracket(path), f"Invalid object: {bracket(path)} must be a hash.")
    return {key: _check(item, value_type, (*path, key)) for key, item in value.items()}


def _parse_bool(text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError(text)
    return text == "true"


_SCALARS: dict[Any, tuple[str, typing.Callable[[str], Any]]] = {
    str: ("string", str),
    int: ("integer", int),
    bool: ("boolean", _parse_bool),
    float: ("decimal", float),
    decimal.Decimal: ("decimal", lambda text: str(decimal.Decimal(text))),
}


# Stripe's codes for a scalar of the wrong form (https://docs.stripe.com/error-codes); the others have none.
_CODES: dict[Any, str] = {int: PARAMETER_INVALID_INTEGER}


def _check_scalar(value: Any, tp: Any, path: Path) -> Any:
    name, parse = _SCALARS[tp]
    if not isinstance(value, str):
        raise ParamError(bracket(path), f"Invalid {name}: {bracket(path)} must be a {name}.", _CODES.get(tp))
    try:
        return parse(value)
    except (ValueError, ArithmeticError):
        raise ParamError(bracket(path), f"Invalid {name}: {value}", _CODES.get(tp)) from None
