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

A request that may change objects (anything but GET) runs inside `track()`,
which keeps an undo log (`Journal`): the first time the request reaches an
object (`objects[id]`, `objects.get`, `get`, `all`, `add`, `del objects[id]`),
a deep copy of that one object is kept, so that changes made in place to its
nested dicts are seen too. When the request ends, its webhook events come
from comparing those objects only, and a request that failed puts just them
back. A request therefore costs what it reaches, not what the state holds.
`objects.update()`, `pop()` and `setdefault()` are not tracked: use `[]`/`del`.
"""

from __future__ import annotations

import copy
import fcntl
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar, overload

StripeObject = dict[str, Any]
_T = TypeVar("_T")
# Written into the state file; a file of another version (or none) is set aside, not guessed at.
FORMAT_VERSION = 2
log = logging.getLogger(__name__)


@dataclass
class Journal:
    """The undo log of one request: each object it reached, as it was before (None: it did not exist)."""

    before: dict[str, StripeObject | None] = field(default_factory=dict)
    # The very dicts those copies were taken from: an undo writes the copy back into
    # them, so whoever holds one (a test, a handler) still holds the stored object.
    originals: dict[str, StripeObject] = field(default_factory=dict)
    # Deep copies taken (objects that existed when first reached).
    copies: int = 0
    # The thread of the request being logged: reads by other threads (GETs, which run
    # without the lock) are not the request's and are not logged.
    thread: int = field(default_factory=threading.get_ident)


class Objects(dict[str, StripeObject]):
    """`State.objects`: a dict of objects by id that keeps the active `Journal` (if any) and
    an index by kind and creation order, so neither a request nor `State.all` walks every object."""

    def __init__(self, initial: Iterable[tuple[str, StripeObject]] = ()) -> None:
        super().__init__()
        self.journal: Journal | None = None
        self._seq: dict[str, int] = {}
        self._next_seq = 0
        self._kinds: dict[str, dict[str, None]] = {}
        for object_id, obj in initial:
            self._store(object_id, obj)

    def _touch(self, object_id: str) -> None:
        """Note what the object is before the request changes it (first reach only)."""
        journal = self.journal
        if journal is None or object_id in journal.before or journal.thread != threading.get_ident():
            return
        current = dict.get(self, object_id)
        if current is None:
            return  # nothing to keep yet: `__setitem__` notes that it did not exist
        journal.before[object_id] = copy.deepcopy(current)
        journal.originals[object_id] = current
        journal.copies += 1

    def _store(self, object_id: str, obj: StripeObject) -> None:
        old = dict.get(self, object_id)
        if old is None:
            self._seq[object_id] = self._next_seq
            self._next_seq += 1
        elif old.get("object") != obj.get("object"):
            self._kinds.get(old.get("object", ""), {}).pop(object_id, None)
        self._kinds.setdefault(obj.get("object", ""), {})[object_id] = None
        dict.__setitem__(self, object_id, obj)

    def _drop(self, object_id: str) -> None:
        old = dict.pop(self, object_id, None)
        if old is not None:
            self._kinds.get(old.get("object", ""), {}).pop(object_id, None)
            self._seq.pop(object_id, None)

    def __getitem__(self, object_id: str, /) -> StripeObject:
        self._touch(object_id)
        return dict.__getitem__(self, object_id)

    @overload
    def get(self, object_id: str, default: None = None, /) -> StripeObject | None: ...
    @overload
    def get(self, object_id: str, default: StripeObject, /) -> StripeObject: ...
    @overload
    def get(self, object_id: str, default: _T, /) -> StripeObject | _T: ...
    def get(self, object_id: str, default: Any = None, /) -> Any:
        self._touch(object_id)
        return dict.get(self, object_id, default)

    def __setitem__(self, object_id: str, obj: StripeObject, /) -> None:
        journal = self.journal
        if journal is not None and object_id not in journal.before and journal.thread == threading.get_ident():
            if dict.__contains__(self, object_id):
                self._touch(object_id)
            else:
                journal.before[object_id] = None
        self._store(object_id, obj)

    def __delitem__(self, object_id: str, /) -> None:
        if not dict.__contains__(self, object_id):
            raise KeyError(object_id)
        self._touch(object_id)
        self._drop(object_id)

    def ids_of(self, kind: str) -> list[str]:
        """Ids of every object of one kind, oldest first."""
        return list(self._kinds.get(kind, {}))

    def in_order(self, object_ids: Iterable[str]) -> list[str]:
        """Those of `object_ids` still stored, in creation order (the order of the dict)."""
        present = [object_id for object_id in object_ids if dict.__contains__(self, object_id)]
        return sorted(present, key=self._seq.__getitem__)

    def restore(self, journal: Journal) -> None:
        """Put back every object the journal noted, as it was (outside any journal)."""
        for object_id, before in journal.before.items():
            if before is None:
                self._drop(object_id)
            else:
                original = journal.originals[object_id]
                original.clear()
                original.update(copy.deepcopy(before))
                self._store(object_id, original)


class State:
    """In-memory store of Stripe objects, optionally mirrored to a JSON file.

    With a file, the file is the truth shared by every process using it (a server and
    a `flask demo reset` beside it, several gunicorn workers): `shared()` holds an
    exclusive lock on a sibling lock file and first reloads the file if someone else
    wrote it since this process last read or wrote it."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.objects = Objects()
        self.idempotency: dict[str, dict[str, Any]] = {}
        self.lock = threading.RLock()
        self.path = Path(path) if path is not None else None
        # The undo log of the last request `track()` ran (for tests and the curious).
        self.last_journal: Journal | None = None
        # (inode, mtime_ns, size) of the file as this process last read or wrote it.
        self._seen: tuple[int, int, int] | None = None
        self._lock_handle: IO[str] | None = None
        self._lock_held = False
        # True when nothing was loaded: no file yet, or one set aside as unreadable.
        self.fresh = True
        if self.path is not None:
            with self.lock, self._file_lock():
                self.fresh = not self._load()

    @contextmanager
    def shared(self) -> Iterator[None]:
        """Hold the state alone, across threads and processes, up to date with the
        file (re-entrant: an inner hold neither locks nor reloads again)."""
        with self.lock, self._file_lock() as outermost:
            if outermost:
                self.refresh()
            yield

    def refresh(self) -> bool:
        """Reload the file if another process wrote it since this one last read or
        wrote it. Costs one `os.stat` when nobody did. Returns whether it reloaded."""
        if self.path is None:
            return False
        try:
            seen = _signature(os.stat(self.path))
        except FileNotFoundError:
            return False  # removed behind our back: what is in memory is written again on the next save
        return seen != self._seen and self._load()

    @contextmanager
    def _file_lock(self) -> Iterator[bool]:
        """An exclusive lock on the sibling lock file (flock: also between two `State`s of
        one process). Yields whether this call took it (False: already held here)."""
        if self.path is None or self._lock_held:
            yield False
            return
        if self._lock_handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_handle = self.path.with_name(self.path.name + ".lock").open("a")
        fcntl.flock(self._lock_handle, fcntl.LOCK_EX)
        self._lock_held = True
        try:
            yield True
        finally:
            self._lock_held = False
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)

    def _load(self) -> bool:
        """Read the state file (the caller holds the file lock). A file this version cannot
        read is set aside with a warning, and what is in memory stays. Returns whether it loaded."""
        assert self.path is not None
        try:
            seen = _signature(os.stat(self.path))
            saved = json.loads(self.path.read_text())
            version = saved.get("version") if isinstance(saved, dict) else None
            if version != FORMAT_VERSION:
                raise ValueError(f"format version {version!r}, this stand-in reads {FORMAT_VERSION}")
            objects, idempotency = Objects(saved["objects"].items()), dict(saved["idempotency"])
        except FileNotFoundError:
            return False
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            self._set_aside(error)
            return False
        self.objects, self.idempotency, self._seen = objects, idempotency, seen
        return True

    def _set_aside(self, error: Exception) -> None:
        """Move an unreadable state file out of the way, keeping it for whoever wants it."""
        assert self.path is not None
        old = self.path.with_name(self.path.name + ".old")
        os.replace(self.path, old)
        log.warning(
            "The stand-in's state file %s could not be read (%s): moved to %s; the stand-in starts empty.",
            self.path,
            error,
            old,
        )

    def add(self, obj: StripeObject) -> StripeObject:
        self.objects[obj["id"]] = obj
        return obj

    def get(self, object_id: str, kind: str) -> StripeObject | None:
        """The object with this id if it is of this kind (`"customer"`, ...), else None."""
        obj = self.objects.get(object_id)
        return obj if obj is not None and obj["object"] == kind else None

    def all(self, kind: str) -> list[StripeObject]:
        """Every object of one kind, newest first, the order Stripe lists them in.

        Inside `track()` each one is noted in the journal (the caller may change it)."""
        return [self.objects[object_id] for object_id in reversed(self.objects.ids_of(kind))]

    @contextmanager
    def track(self) -> Iterator[Journal]:
        """Keep an undo log of the objects reached inside (see the module docstring)."""
        if self.objects.journal is not None:
            raise RuntimeError("State.track() is already active")
        journal = self.objects.journal = Journal()
        try:
            yield journal
        finally:
            self.objects.journal = None
            self.last_journal = journal

    def changes(self, journal: Journal) -> tuple[dict[str, StripeObject], dict[str, StripeObject]]:
        """(before, after) of the objects the journal noted, in creation order: what
        `events.changes` compares, as if it compared the whole state."""
        before = {object_id: obj for object_id, obj in journal.before.items() if obj is not None}
        after = {
            object_id: dict.__getitem__(self.objects, object_id) for object_id in self.objects.in_order(journal.before)
        }
        return before, after

    def rollback(self, journal: Journal) -> None:
        """Undo what the journal noted: the objects are as they were before the request."""
        self.objects.restore(journal)
        self.save()

    def save(self) -> None:
        """Write the state file, if any, atomically: a crash never leaves half a file."""
        if self.path is None:
            return
        with self.lock, self._file_lock():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            saved = {"version": FORMAT_VERSION, "objects": self.objects, "idempotency": self.idempotency}
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
            with os.fdopen(fd, "w") as file:
                file.write(json.dumps(saved, indent=1))
            # Each write's mtime is later than the one before, even within the clock's tick,
            # so another process's `refresh()` never takes a new file for the one it read.
            mtime = max(time.time_ns(), self._seen[1] + 1 if self._seen else 0)
            os.utime(tmp, ns=(mtime, mtime))
            os.replace(tmp, self.path)
            self._seen = _signature(os.stat(self.path))


def _signature(stat: os.stat_result) -> tuple[int, int, int]:
    return stat.st_ino, stat.st_mtime_ns, stat.st_size
