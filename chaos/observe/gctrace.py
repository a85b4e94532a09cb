"""Read Go's `GODEBUG=gctrace=1` lines: GC activity of any Go service, with no cooperation.

One line per GC cycle, e.g.::

    gc 12 @1.534s 2%: 0.021+1.2+0.004 ms clock, 0.042+0.3/1.1/0+0.008 ms cpu,
        4->5->2 MB, 5 MB goal, 0 MB stacks, 0 MB globals, 2 P      (one line)

The suite launches every Go target with gctrace on, so GC rate, stop-the-world pauses and heap
sizes can be measured for any service, before and during a fault.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from chaos.platform.observations import LogLine

_LINE = re.compile(
    r"^gc (?P<n>\d+) @(?P<at>[\d.]+)s (?P<pct>\d+)%: "
    r"(?P<stw1>[\d.]+)\+(?P<conc>[\d.]+)\+(?P<stw2>[\d.]+) ms clock, .*?"
    r"(?P<before>\d+)->(?P<after>\d+)->(?P<live>\d+) MB, (?P<goal>\d+) MB goal"
)


@dataclass(frozen=True, slots=True)
class GCCycle:
    """One GC cycle as gctrace reports it, stamped with when the suite read the line."""

    t_ns: int
    number: int
    pause_ms: float  # both stop-the-world phases
    heap_before_mb: int
    heap_live_mb: int
    heap_goal_mb: int


def parse(lines: Sequence[LogLine]) -> list[GCCycle]:
    cycles = []
    for line in lines:
        match = _LINE.match(line.text)
        if match is None:
            continue
        cycles.append(GCCycle(
            t_ns=line.t_ns, number=int(match["n"]),
            pause_ms=float(match["stw1"]) + float(match["stw2"]),
            heap_before_mb=int(match["before"]), heap_live_mb=int(match["live"]),
            heap_goal_mb=int(match["goal"]),
        ))
    return cycles


@dataclass(frozen=True, slots=True)
class GCActivity:
    """GC activity over one window."""

    cycles: int
    per_second: float
    pause_p99_ms: float | None
    heap_live_max_mb: int | None
    heap_goal_max_mb: int | None


def activity(cycles: Sequence[GCCycle], start_ns: int, end_ns: int) -> GCActivity:
    inside = [c for c in cycles if start_ns <= c.t_ns < end_ns]
    seconds = max((end_ns - start_ns) / 1e9, 1e-9)
    pauses = sorted(c.pause_ms for c in inside)
    p99 = pauses[min(len(pauses) - 1, round(0.99 * (len(pauses) - 1)))] if pauses else None
    return GCActivity(len(inside), len(inside) / seconds, p99,
                      max((c.heap_live_mb for c in inside), default=None),
                      max((c.heap_goal_mb for c in inside), default=None))
