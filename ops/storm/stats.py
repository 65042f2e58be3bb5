"""What the stand-in was asked: request counts by "METHOD /v1/template", and its 429s.

From its stats endpoint (`GET /_standin/stats`, zeroed by `POST /_standin/stats/reset`)
when it has one; otherwise from the request lines its server logs (werkzeug's), counted
from where the log stood at the last `reset()`."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# werkzeug's request line: "GET /v1/customers/cus_123?expand=... HTTP/1.1" 200 -
LINE = re.compile(r'"([A-Z]+) (/v1/[^ ?"]*)[^"]*" (\d{3})')
# A path segment that is an object's id (cus_..., sub_..., bpc_...), not a word of the
# route (billing_portal, test_helpers): a prefix, then at least 8 letters and digits.
OBJECT_ID = re.compile(r"^[a-z]+_[A-Za-z0-9]{8,}$")
# The reads the background work makes: what a refresh of one customer costs.
BACKGROUND_READS = ("GET /v1/subscriptions", "GET /v1/customers/{id}", "GET /v1/customers")


@dataclass(frozen=True)
class Counts:
    requests: Counter[str]  # "METHOD /v1/template" -> count
    total: int
    rate_limited: int  # 429s answered

    @property
    def background_reads(self) -> int:
        return sum(self.requests[name] for name in BACKGROUND_READS)


def template(path: str) -> str:
    return "/".join("{id}" if OBJECT_ID.match(part) else part for part in path.split("/"))


class Stats:
    def __init__(self, url: str, log: Path) -> None:
        self.url, self.log = url, log
        self._mark = 0
        self.endpoint = self._get() is not None

    def _get(self) -> dict[str, object] | None:
        try:
            with urllib.request.urlopen(self.url + "/_standin/stats", timeout=10) as answer:
                found = json.loads(answer.read())
                return found if isinstance(found, dict) else None
        except (urllib.error.URLError, ValueError):
            return None

    def reset(self) -> None:
        if self.endpoint:
            urllib.request.urlopen(
                urllib.request.Request(self.url + "/_standin/stats/reset", method="POST"), timeout=10
            )
        self._mark = self.log.stat().st_size

    def read(self) -> Counts:
        if self.endpoint:
            found = self._get() or {}
            requests = found.get("requests", {})
            counted = (
                Counter({str(k): int(v) for k, v in requests.items()}) if isinstance(requests, dict) else Counter()
            )
            total, limited = found.get("total", sum(counted.values())), found.get("rate_limited", 0)
            return Counts(counted, int(str(total)), int(str(limited)))
        with self.log.open("rb") as log:
            log.seek(self._mark)
            text = log.read().decode(errors="replace")
        counted, limited = Counter[str](), 0
        for method, path, status in LINE.findall(text):
            counted[f"{method} {template(path)}"] += 1
            limited += status == "429"
        return Counts(counted, sum(counted.values()), limited)
