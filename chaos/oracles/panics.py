"""The no-panic oracle: no Go crash in any target's output, no unrequested exit, no restart.

It quotes the crash headline and the crashing goroutine's stack, and says which fault window the
crash fell in, so whoever reads a failed gate sees at once what broke and when. A data race is
headlined with both racing accesses ("WARNING: DATA RACE: write in server.(*Server).applyReload vs
read in server.(*Server).handleStatus") and quoted with both their stacks.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from chaos.oracles.base import Oracle, OracleParams
from chaos.oracles.context import OracleContext
from chaos.oracles.gocrash import GoCrash, find_crashes
from chaos.timeline import EventKind, Timeline
from chaos.verdict import Evidence, Finding, Status

NAME = "panics"
#: Lines of the crashing goroutine's stack quoted, and of each racing access's (its line and four frames).
_STACK_LINES = 12
_ACCESS_LINES = 9


class PanicsParams(OracleParams):
    """No thresholds: any crash, unrequested failed exit or restart fails the run; `recovered` adds the words
    a service logs a panic it recovered in."""

    recovered: tuple[str, ...] = Field(
        (), description="Regular expressions for the log lines in which the service reports a panic it recovered "
                        "itself (the process lives on, so Go prints no crash), e.g. CoreDNS's '^\\[PANIC\\] '; "
                        "every matching line counts as a crash")

    @field_validator("recovered")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"{pattern!r} is not a regular expression ({e}); fix it, e.g. '^\\[PANIC\\] '") \
                    from None
        return patterns


def check(ctx: OracleContext, params: PanicsParams) -> Finding:
    """FAIL on any crash signature, unrequested non-zero exit or restart of any target."""
    targets, timeline = ctx.targets, ctx.timeline
    evidence: list[Evidence] = []
    headlines: list[str] = []
    crash_count = 0
    bad_exits = 0
    restarts = 0
    recovered = [("recovered panic", re.compile(pattern)) for pattern in params.recovered]
    for target in targets:
        name = target.spec.name
        for crash in find_crashes(target.logs(), recovered):
            crash_count += 1
            where = placement(timeline, crash.t_ns)
            headlines.append(f"{name}: {crash.summary} ({where})")
            evidence.append(Evidence(crash.t_ns, f"{name} {crash.kind}, {where}: {crash.summary}\n{quote(crash)}"))
        for record in target.exits():
            if not record.requested and record.failed:
                bad_exits += 1
                evidence.append(Evidence(record.t_ns, f"{name} {record.describe()}, "
                                                      f"{placement(timeline, record.t_ns)}"))
        restarts += target.restarts
    figures = {"crashes": crash_count, "unrequested_exits": bad_exits, "restarts": restarts}
    if crash_count or bad_exits or restarts:
        first = headlines[0] if headlines else evidence[0].text.splitlines()[0]
        more = f" (+{len(headlines) - 1} more)" if len(headlines) > 1 else ""
        summary = f"{first}{more}; {bad_exits} unrequested exit(s), {restarts} restart(s)"
        return Finding(NAME, Status.FAIL, summary, tuple(evidence), figures)
    return Finding(NAME, Status.PASS, f"no crash, exit or restart in {len(targets)} target(s)",
                   (), figures)


def quote(crash: GoCrash) -> str:
    """The stack lines evidence quotes: the crashing goroutine's, or both racing accesses' for a data race."""
    if crash.accesses:
        return "\n\n".join("\n".join(access.stack[:_ACCESS_LINES]) for access in crash.accesses)
    return "\n".join(crash.stack[:_STACK_LINES]) if crash.stack else "(no goroutine stack printed)"


def placement(timeline: Timeline, t_ns: int) -> str:
    """Where `t_ns` falls relative to the run's fault windows, in words."""
    starts = timeline.events(kind=EventKind.FAULT_START)
    ends = {e.details.get("fault_id"): e for e in timeline.events(kind=EventKind.FAULT_END)}
    best: str | None = None
    for start in starts:
        fault = f"{start.source}#{start.details.get('fault_id')}"
        end = ends.get(start.details.get("fault_id"))
        if t_ns < start.t_ns:
            continue
        if end is None or t_ns <= end.t_ns:
            return f"during fault {fault}, {(t_ns - start.t_ns) / 1e6:.0f} ms after it started"
        best = f"{(t_ns - end.t_ns) / 1e6:.0f} ms after fault {fault} ended"
    return best or "before any fault"


ORACLE = Oracle(NAME, PanicsParams, check)
