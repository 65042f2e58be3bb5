"""Stripe's form encoding: bracket keys in, nested dicts and lists out.

The SDK flattens params before sending them (see `stripe/_encode.py`):
nested dicts become `a[b][c]=v`, lists become `k[0]=v`, `k[1]=v`, booleans
become "true"/"false", and `None` values are left out. This module undoes
that flattening without interpreting any value: every leaf stays the string
that was on the wire, because deciding what "5" means (an int? a name?) is
the validator's job, which knows the SDK's type for each key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

# `name` followed by any number of `[segment]`s; `[]` means "append".
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


class EncodingError(Exception):
    """A form key or value cannot be turned into a nested structure."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


def bracket(path: Sequence[str | int]) -> str:
    """Spell a param path the way Stripe names it in errors: `a[b][0][c]`."""
    if not path:
        return ""
    head, *rest = path
    return str(head) + "".join(f"[{segment}]" for segment in rest)


def decode(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Turn `[("a[b][0]", "x"), ...]` into `{"a": {"b": ["x"]}}`.

    Levels whose keys are exactly 0..n-1 become lists; any other level stays a
    dict (metadata may legitimately use keys such as "7"), and the validator
    reports gaps where it expects a list.
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            raise EncodingError(key, f"Invalid parameter name: {key}")
        segments = [match.group(1), *_SEGMENT.findall(match.group(2))]
        _insert(root, segments, value, key)
    # The top level is always a dict of param names, never a list.
    return {name: _listify(value) for name, value in root.items()}


def _insert(root: dict[str, Any], segments: list[str], value: str, key: str) -> None:
    node = root
    for depth, segment in enumerate(segments):
        if segment == "":
            # `k[]` appends: the next free index of this level.
            segment = str(len(node))
        last = depth == len(segments) - 1
        existing = node.get(segment)
        if last:
            if isinstance(existing, dict):
                raise EncodingError(key, f"Invalid {key}: given both as a value and as a hash.")
            node[segment] = value
        else:
            if existing is None:
                existing = node[segment] = {}
            elif not isinstance(existing, dict):
                raise EncodingError(key, f"Invalid {key}: given both as a value and as a hash.")
            node = existing


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and sorted(converted) == sorted(str(i) for i in range(len(converted))):
        return [converted[str(i)] for i in range(len(converted))]
    return converted
