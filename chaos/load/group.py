"""Several loads run at once (say DNS and HTTP against one service), seen by the run as one.

Every load streams its own request records onto the same timeline, so the oracles judge what all
clients saw; the group only joins their live figures for the console and their stopping.
"""

from __future__ import annotations

from collections.abc import Sequence

from chaos.load.run import LoadRun
from chaos.load.stream import LoadTotals
from chaos.timeline import WindowStats


class LoadGroup:
    def __init__(self, runs: Sequence[LoadRun]) -> None:
        self.runs = list(runs)

    def live(self) -> WindowStats:
        """Rate and errors summed over the loads; the p99 of the slowest (for the console only)."""
        each = [run.live() for run in self.runs]
        if len(each) == 1:
            return each[0]
        p99s = [s.p99_ms for s in each if s.p99_ms is not None]
        p50s = [s.p50_ms for s in each if s.p50_ms is not None]
        maxes = [s.max_ms for s in each if s.max_ms is not None]
        return WindowStats(min(s.start_ns for s in each), max(s.end_ns for s in each), sum(s.count for s in each),
                           sum(s.errors for s in each), max(p50s, default=None), max(p99s, default=None),
                           max(maxes, default=None))

    def stop(self) -> LoadTotals | list[LoadTotals | None] | None:
        """Stop every load (its last results drained); Locust's totals, one per load when there are several."""
        totals = [run.stop() for run in self.runs]
        return totals[0] if len(totals) == 1 else totals
