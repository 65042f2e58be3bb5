"""An SMTP server on loopback that keeps what arrives (aiosmtpd, a test requirement: see
requirements-dev.txt), so the storm can count the emails the site really sent."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Mailbox:
    """Messages received, by recipient; `url` is the site's MAIL_URL for it."""

    def __init__(self, port: int) -> None:
        from aiosmtpd.controller import Controller  # only when a storm runs: a test tool

        self.received: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.url = f"smtp://127.0.0.1:{port}"
        self._controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        with self._lock:
            for to in envelope.rcpt_tos:
                self.received[to.lower()] += 1
        return "250 Message accepted for delivery"

    def __enter__(self) -> Mailbox:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
