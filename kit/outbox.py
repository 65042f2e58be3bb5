"""The demo's Outbox (offline mode): the emails the site sends, kept instead of sent.

The core hands every email to `billing.email.send_email`; offline, the kit points it
here (app.extensions[SENDER]), and /demo/outbox lists them with their links, so a
sales engineer can show a failed payment's email and click through it. The links are
credentials for one step each: fine on a demo that moves no real money, and the
Outbox exists only offline.

Kept in the instance folder beside the stand-in's state, so every process of the demo
(the webhook thread, `flask demo reset`, gunicorn's workers) sees the same Outbox;
tests keep it in memory.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app

from billing.email import Message
from kit.offline import one_at_a_time

# The newest this many are kept: a demo left running for weeks does not grow a large file.
KEPT = 200


@dataclass(frozen=True)
class Sent:
    to: str
    subject: str
    text: str
    at: str  # ISO 8601, UTC

    def lines(self) -> list[tuple[str, bool]]:
        """The text line by line, each with whether it is a link to show as one."""
        return [(line, line.startswith(("http://", "https://"))) for line in self.text.splitlines()]


class Outbox:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: list[Sent] = []
        self._lock = threading.Lock()

    def add(self, message: Message) -> None:
        """billing.email's sender, offline: keep the message."""
        sent = Sent(message.to, message.subject, message.text, datetime.now(UTC).isoformat(timespec="seconds"))
        self._change(lambda kept: [*kept, sent][-KEPT:])

    def all(self) -> list[Sent]:
        """Every kept email, the newest first."""
        with self._lock:
            return list(reversed(self._read()))

    def clear(self) -> None:
        self._change(lambda kept: [])

    def _change(self, change: Callable[[list[Sent]], list[Sent]]) -> None:
        with self._lock, one_at_a_time(self.path.with_suffix(".lock") if self.path else None):
            self._write(change(self._read()))

    def _read(self) -> list[Sent]:
        if self.path is None:
            return list(self._memory)
        try:
            return [Sent(**item) for item in json.loads(self.path.read_text())]
        except (OSError, ValueError, TypeError):  # none yet, or unreadable: an empty Outbox
            return []

    def _write(self, kept: list[Sent]) -> None:
        if self.path is None:
            self._memory = kept
            return
        part = self.path.with_suffix(".part")
        part.write_text(json.dumps([dataclasses.asdict(s) for s in kept]))
        os.replace(part, self.path)  # readers see the old file or the new one, never half of one


def clear_current() -> None:
    """Empty the running app's Outbox, if it has one (on a demo reset: its links were
    for the users just removed)."""
    box: Outbox | None = current_app.extensions.get("outbox")
    if box is not None:
        box.clear()
