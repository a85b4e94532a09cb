"""One clock and one record of a run: events and request results that oracles query by window.

Everything that happens in a run lands here stamped with `now_ns()` (wall-clock nanoseconds, the
same clock Go's log timestamps and Locust's child process use), so a reload write, a crash line in
a log and a burst of failed requests line up to the millisecond. Injectors and the platform write;
oracles and reports read. Neither side imports the other.
"""

from __future__ import annotations

import bisect
import heapq
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ddsketch import DDSketch

#: Relative accuracy of latency quantiles (1% of the value).
QUANTILE_ACCURACY = 0.01


def now_ns() -> int:
    """The run's single clock: wall-clock nanoseconds since the epoch."""
    return time.time_ns()


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened at one instant: a fault step, a phase change, a process exit.

    `kind` is dotted, family first: ``phase.start``, ``fault.start``, ``fault.end``,
    ``reload.write``, ``target.start``, ``target.exit``, ``etcd.leader``.
    """

    t_ns: int
    kind: str
    source: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the load generator made, as the oracles need it."""

    t_ns: int
    latency_ms: float
    ok: bool
    name: str = ""
    status: int = 0
    error: str | None = None
    version: str | None = None
    #: Key a keyed request wrote or read (write/read-pair users such as kvd's), else None.
    key: str | None = None
    #: Write: the value written. Read: the value this user last wrote and had acknowledged.
    expected: str | None = None
    #: Read: the value the service returned (None for writes and failed reads).
    observed: str | None = None


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Request statistics over `[start_ns, end_ns)`, with quantiles from a mergeable sketch."""

    start_ns: int
    end_ns: int
    count: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else 0.0

    @property
    def rps(self) -> float:
        seconds = (self.end_ns - self.start_ns) / 1e9
        return self.count / seconds if seconds > 0 else 0.0


class Timeline:
    """Thread-safe, append-mostly record of events and requests, queried by time window."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._requests: list[RequestRecord] = []
        self._request_times: list[int] = []

    # -- writing ---------------------------------------------------------------------------
    def record(self, kind: str, source: str, t_ns: int | None = None, **details: Any) -> Event:
        """Stamp an event now (or at `t_ns`, for events observed after the fact) and keep it."""
        event = Event(t_ns if t_ns is not None else now_ns(), kind, source, dict(details))
        with self._lock:
            self._events.append(event)
        return event

    def add_requests(self, records: Iterable[RequestRecord]) -> None:
        """Add request results; they may arrive slightly out of order from the load process.

        Each batch is sorted and merged into the tail it overlaps, so the record stays in time
        order at the cost of the (short) overlap, not of the whole run.
        """
        batch = sorted(records, key=lambda r: r.t_ns)
        if not batch:
            return
        with self._lock:
            cut = bisect.bisect_right(self._request_times, batch[0].t_ns)
            if cut < len(self._requests):
                batch = list(heapq.merge(self._requests[cut:], batch, key=lambda r: r.t_ns))
                del self._requests[cut:]
                del self._request_times[cut:]
            self._requests.extend(batch)
            self._request_times.extend(r.t_ns for r in batch)

    # -- reading ---------------------------------------------------------------------------
    def events(
        self, kind: str | None = None, since_ns: int | None = None, until_ns: int | None = None
    ) -> list[Event]:
        """Events in time order, filtered by kind (exact, or a family prefix ending in '.')."""
        with self._lock:
            events = sorted(self._events, key=lambda e: e.t_ns)
        return [
            e
            for e in events
            if (kind is None or e.kind == kind or (kind.endswith(".") and e.kind.startswith(kind)))
            and (since_ns is None or e.t_ns >= since_ns)
            and (until_ns is None or e.t_ns < until_ns)
        ]

    def requests(self, start_ns: int | None = None, end_ns: int | None = None) -> list[RequestRecord]:
        """Request records started in `[start_ns, end_ns)`, in time order."""
        with self._lock:
            lo = 0 if start_ns is None else bisect.bisect_left(self._request_times, start_ns)
            hi = (
                len(self._request_times)
                if end_ns is None
                else bisect.bisect_left(self._request_times, end_ns)
            )
            return self._requests[lo:hi]

    def window(self, start_ns: int, end_ns: int) -> WindowStats:
        """Counts, errors and latency quantiles of the requests started in the window."""
        return summarize(self.requests(start_ns, end_ns), start_ns, end_ns)

    def buckets(self, width_ms: int = 100, start_ns: int | None = None,
                end_ns: int | None = None) -> list[WindowStats]:
        """Consecutive fixed-width windows covering the requests (empty windows included)."""
        records = self.requests(start_ns, end_ns)
        if not records:
            return []
        times = [r.t_ns for r in records]
        width_ns = width_ms * 1_000_000
        origin = start_ns if start_ns is not None else records[0].t_ns
        last = end_ns if end_ns is not None else records[-1].t_ns + 1
        out: list[WindowStats] = []
        index = 0
        t = origin
        while t < last:
            upper = min(t + width_ns, last)
            chunk_end = bisect.bisect_left(times, upper, lo=index)
            out.append(summarize(records[index:chunk_end], t, upper))
            index = chunk_end
            t = upper
        return out

    def first_healthy_window(
        self,
        start_ns: int,
        end_ns: int,
        hold_ms: int,
        healthy: Callable[[WindowStats], bool],
        step_ms: int = 100,
    ) -> int | None:
        """First t in [start_ns, end_ns - hold), probed every `step_ms`, whose window [t, t + hold)
        `healthy` accepts as a whole; None when no such window fits before `end_ns`."""
        hold_ns, step_ns = hold_ms * 1_000_000, step_ms * 1_000_000
        for t in range(start_ns, end_ns - hold_ns + 1, step_ns):
            if healthy(self.window(t, t + hold_ns)):
                return t
        return None

def summarize(records: list[RequestRecord], start_ns: int, end_ns: int) -> WindowStats:
    """Exact counts and sketch quantiles of `records` (never averages of percentiles)."""
    sketch = DDSketch(relative_accuracy=QUANTILE_ACCURACY)
    errors = 0
    for record in records:
        sketch.add(max(record.latency_ms, 1e-3))
        if not record.ok:
            errors += 1
    if not records:
        return WindowStats(start_ns, end_ns, 0, 0, None, None, None)
    return WindowStats(
        start_ns,
        end_ns,
        len(records),
        errors,
        sketch.get_quantile_value(0.50),
        sketch.get_quantile_value(0.99),
        max(r.latency_ms for r in records),
    )
