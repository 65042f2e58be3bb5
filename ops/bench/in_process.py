"""Each page's cost per view in this process, beside its bare view: the app's WSGI
callable is timed, each request's environ built beforehand (the harness costs nothing
measured). Every signed-in view is a different visitor's."""

from __future__ import annotations

import cProfile
import io
import pstats
import statistics
import sysconfig
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from flask import Flask
from werkzeug.test import EnvironBuilder

from ops.bench.site import ADDRESS, USER_AGENT

ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True)
class Request:
    """One view as a visitor sends it, and what its answer must contain."""

    environ: dict[str, Any]
    expect: bytes = b""


@dataclass(frozen=True)
class Figure:
    name: str
    ms: list[float]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.ms)

    @property
    def median(self) -> float:
        return statistics.median(self.ms)


def request(path: str, cookie: str = "", expect: str = "") -> Request:
    headers = [("User-Agent", USER_AGENT), *([("Cookie", cookie)] if cookie else [])]
    environ = EnvironBuilder(path=path, headers=headers, environ_base={"REMOTE_ADDR": ADDRESS}).get_environ()
    return Request(environ, expect.encode())


def view(app: Flask, sent: Request) -> float:
    """ms for the app to answer `sent`; stops the bench on an answer that is not the page:
    not a 200, missing what it must show, or setting a cookie (the visitor's session
    rewritten: not what a browser that signed in once then sends)."""
    seen: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen[:] = [status, headers]

    environ = dict(sent.environ)
    start = time.perf_counter()
    answer = app(environ, cast(Any, start_response))
    body = b"".join(answer)
    getattr(answer, "close", lambda: None)()
    took = (time.perf_counter() - start) * 1000
    status, headers = seen
    if not status.startswith("200") or sent.expect not in body or any(k.lower() == "set-cookie" for k, _ in headers):
        raise SystemExit(f"{environ['PATH_INFO']} answered {status} {headers}, not the page (expected {sent.expect!r})")
    return took


def measure(app: Flask, pairs: dict[str, list[Request]], warm_up: Iterable[Request]) -> dict[str, Figure]:
    """Each name's requests, one view each, the names taking turns request by request (so
    that a slow moment of the machine falls on all of them), after a few warm-up views."""
    for sent in warm_up:
        view(app, sent)
    ms: dict[str, list[float]] = {name: [] for name in pairs}
    for turn in zip(*pairs.values(), strict=True):
        for name, sent in zip(pairs, turn, strict=True):
            ms[name].append(view(app, sent))
    return {name: Figure(name, values) for name, values in ms.items()}


def profile(app: Flask, requests: list[Request], top: int = 25) -> str:
    """Where the views' time goes: the top functions by cumulative time (the call chain),
    then by own time (the hot spots); paths shortened."""
    profiler = cProfile.Profile()
    profiler.enable()
    for sent in requests:
        view(app, sent)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(15)
    return out.getvalue().replace(sysconfig.get_paths()["purelib"] + "/", "").replace(f"{ROOT}/", "").strip()
