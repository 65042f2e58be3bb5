"""Render Stripe params as the code a reader would write: Python and curl.

Used by the "Show the API call" panels beside each button. The params come
from the same `flows` builder the button's route uses, so the panel shows
what the button sends. The secret key is never rendered: both forms read it
from the STRIPE_SECRET_KEY environment variable.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ApiCall:
    python: str
    curl: str


def form_pairs(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's wire encoding: nested keys in brackets, list items by index,
    booleans as true/false (what the SDK sends as the request body)."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        pairs.extend(_pairs(name, value))
    return pairs


def _pairs(name: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        return form_pairs(value, name)
    if isinstance(value, (list, tuple)):
        return [pair for i, item in enumerate(value) for pair in _pairs(f"{name}[{i}]", item)]
    if isinstance(value, bool):
        return [(name, "true" if value else "false")]
    return [(name, str(value))]


def render(
    service: str,
    path: str,
    params: Mapping[str, Any],
    api_base: str,
    api_version: str,
    method: str = "create",
    target: str | None = None,
) -> ApiCall:
    """`service` as in the SDK (`billing_portal.sessions`), `path` as on the wire; `method` and
    `target` for a call on one object (`subscription_schedules.release("sub_sched_...")`)."""
    body = python_literal(params)
    args = f"{json.dumps(target)}, {body}" if target is not None else body
    then = "# then answer 303 See Other to session.url" if method == "create" else "# then show the account page"
    result = "session" if method == "create" else "result"
    python = (
        "import os\n"
        "from stripe import StripeClient\n\n"
        f'client = StripeClient(os.environ["STRIPE_SECRET_KEY"], stripe_version="{api_version}")\n'
        f"{result} = client.v1.{service}.{method}({args})\n"
        f"{then}"
    )
    lines = [
        f"curl {shlex.quote(api_base + path)}",
        '-u "$STRIPE_SECRET_KEY:"',
        f"-H {shlex.quote('Stripe-Version: ' + api_version)}",
    ]
    pairs = form_pairs(params)
    if not pairs:
        lines.append("-X POST")  # without a body curl would GET
    lines += [f"--data-urlencode {shlex.quote(f'{name}={value}')}" for name, value in pairs]
    return ApiCall(python=python, curl=" \\\n  ".join(lines))


def python_literal(value: Any, level: int = 0) -> str:
    """`value` as Python source, one key per line, four spaces a level (like black)."""
    if isinstance(value, Mapping):
        items = [f"{json.dumps(key)}: {python_literal(item, level + 1)}" for key, item in value.items()]
        return _block("{", items, "}", level)
    if isinstance(value, (list, tuple)):
        return _block("[", [python_literal(item, level + 1) for item in value], "]", level)
    if isinstance(value, str):
        return json.dumps(value)  # a valid Python string literal, in double quotes
    return repr(value)


def _block(open_: str, items: list[str], close: str, level: int) -> str:
    inline = open_ + ", ".join(items) + close
    if len(inline) <= 60 and "\n" not in inline:
        return inline
    pad = "    " * level
    return open_ + "\n" + "".join(f"{pad}    {item},\n" for item in items) + pad + close
