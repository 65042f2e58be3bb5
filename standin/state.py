"""The stand-in's memory: every Stripe object it holds, by id.

Shape (also what the state file holds, as JSON):

    State.objects      {"cus_...": {...customer...}, "sub_...": {...}, ...}
                       Every object exactly as the API returns it (unexpanded),
                       in creation order. The `object` field says what it is.
    State.idempotency  {"<Idempotency-Key>": {"fingerprint": "...", "status": 200,
                                              "body": {...}}}
                       The first answer to each keyed POST, replayed on retries.

Tests may read and change `objects` directly (e.g. mark a subscription
`past_due`); call `save()` afterwards if a state file is in use.

One re-entrant lock guards everything: the API and the hosted pages take it
for the whole of a request, so a request sees and leaves a consistent state
even under the threaded development server.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

StripeObject = dict[str, Any]


class State:
    """In-memory store of Stripe objects, optionally mirrored to a JSON file."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.objects: dict[str, StripeObject] = {}
        self.idempotency: dict[str, dict[str, Any]] = {}
        self.lock = threading.RLock()
        self.path = Path(path) if path is not None else None
        if self.path is not None and self.path.exists():
            saved = json.loads(self.path.read_text())
            self.objects = saved["objects"]
            self.idempotency = saved["idempotency"]

    def add(self, obj: StripeObject) -> StripeObject:
        self.objects[obj["id"]] = obj
        return obj

    def get(self, object_id: str, kind: str) -> StripeObject | None:
        """The object with this id if it is of this kind (`"customer"`, ...), else None."""
        obj = self.objects.get(object_id)
        return obj if obj is not None and obj["object"] == kind else None

    def all(self, kind: str) -> list[StripeObject]:
        """Every object of one kind, newest first, the order Stripe lists them in."""
        return [obj for obj in reversed(self.objects.values()) if obj["object"] == kind]

    def save(self) -> None:
        """Write the state file, if any, atomically: a crash never leaves half a file."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"objects": self.objects, "idempotency": self.idempotency}, indent=1)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        with os.fdopen(fd, "w") as file:
            file.write(data)
        os.replace(tmp, self.path)
