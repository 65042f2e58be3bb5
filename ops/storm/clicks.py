"""Customers who keep clicking through the storm: each signed in (the site's own sign-in
form), pressing Manage billing once a second, a CSRF-checked POST that makes one Stripe
call. A click succeeds when it answers 303 to Stripe (the stand-in's portal page)."""

from __future__ import annotations

import threading
import time
import urllib.parse
from dataclasses import dataclass, field

from ops.load import Visitor

BUTTON = "/account/billing"


@dataclass
class Clicks:
    seconds: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def signed_in(url: str, email: str, password: str) -> tuple[Visitor, str]:
    """A browser signed in as `email`, and the CSRF token of its account page."""
    visitor = Visitor(urllib.parse.urlsplit(url).port or 80)
    status, _ = visitor.request(
        "POST", "/signin", {"csrf_token": visitor.token("/signin"), "email": email, "password": password}
    )
    if status != 303:
        raise SystemExit(f"{email} could not sign in ({status})")
    return visitor, visitor.token("/account")


class Clickers:
    """`people` (visitor, token, stripe_url) pressing the button once a second, in threads,
    until `stop()`; each click's time and failure into the Clicks of the phase under way."""

    def __init__(self, people: list[tuple[Visitor, str]], stripe_url: str) -> None:
        self.people, self.stripe_url = people, stripe_url
        self.phase = Clicks()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Clicks:
        self.phase = Clicks()
        self._stop.clear()
        self._threads = [threading.Thread(target=self._click, args=(p,), daemon=True) for p in self.people]
        for thread in self._threads:
            thread.start()
        return self.phase

    def stop(self) -> Clicks:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        return self.phase

    def _click(self, person: tuple[Visitor, str]) -> None:
        visitor, token = person
        phase = self.phase
        while not self._stop.is_set():
            begun = time.perf_counter()
            try:
                status, _ = visitor.request("POST", BUTTON, {"csrf_token": token})
                ok = status == 303 and visitor.location.startswith(self.stripe_url)
                why = f"HTTP {status} to {visitor.location or 'nowhere'}"
            except Exception as e:  # noqa: BLE001 - a failed click, counted and shown
                visitor = Visitor(visitor.conn.port, visitor.cookies)
                ok, why = False, repr(e)
            took = time.perf_counter() - begun
            phase.seconds.append(took)
            if not ok:
                phase.failed.append(why)
            self._stop.wait(max(0.0, 1.0 - took))
