"""The storm's figures, each printed beside the issue's target for it (issue 21, "Done
when") and whether it was met: percentiles, and the lines of the report."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

# Issue 21's targets.
WEBHOOK_P99_MS = 50
READS_PER_CUSTOMER = 1.2
CONVERGE_FACTOR = 1.2  # converged within this many times reads / the background budget
CLICK_P95_FACTOR = 1.5  # the clicks' p95 during the storm, over their p95 before it
RESYNC_CALLS = 60


def percentile(values: list[float], p: int) -> float:
    """The p-th percentile (statistics.quantiles' default method); nan when there is nothing."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100)[p - 1]


@dataclass
class Report:
    title: str
    lines: list[tuple[str, str, bool | None]]

    def add(self, figure: str, target: str = "", met: bool | None = None) -> None:
        self.lines.append((figure, target, met))

    def text(self) -> str:
        width = max((len(f) for f, _, _ in self.lines), default=0)
        out = [self.title]
        for figure, target, met in self.lines:
            verdict = "" if met is None else ("met" if met else "MISSED")
            out.append(f"  {figure:{width}}   target {target}: {verdict}" if target else f"  {figure}")
        return "\n".join(out)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"
