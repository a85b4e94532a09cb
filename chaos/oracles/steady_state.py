"""The steady state during the faults: what clients saw in each fault window, against the baseline.

`recovery` judges the service after the faults; this judges it while they run. Each fault carries
its client budget on its `fault.start` event (the injector's default, or the scenario's
`steady_state:`): a reload storm the service takes must be invisible to clients (1 % errors, p99
within 10x the baseline's, at least 100 ms), a leader loss may cost errors for a while. A service that answers 429
to every request during a storm fails here, naming the error its clients got.
"""

from __future__ import annotations

from dataclasses import dataclass

from chaos.client_budget import ClientBudget
from chaos.oracles.context import OracleContext
from chaos.oracles.failed_requests import commonest, said
from chaos.timeline import Event, EventKind, Timeline, WindowStats
from chaos.verdict import Evidence, Finding, Status, overall_status

NAME = "steady_state"
#: Fewer failed requests than this never fail a window: one error in a handful of requests is noise.
MIN_ERRORS = 3
#: The p99 of fewer requests than this is not judged.
MIN_REQUESTS_FOR_P99 = 20


@dataclass(frozen=True, slots=True)
class _Window:
    fault: str
    start: Event
    end_ns: int
    budget: ClientBudget


def check(ctx: OracleContext) -> Finding | None:
    """A finding over every fault window with a budget to judge; None when no fault has one."""
    timeline, phases = ctx.timeline, ctx.phases
    windows = _fault_windows(timeline)
    judged = [w for w in windows if w.budget.max_error_rate is not None or w.budget.p99_factor is not None]
    if not judged:
        return None
    baseline = timeline.window(phases.baseline_start, phases.faults_start)
    verdicts: list[tuple[Status, str, tuple[Evidence, ...]]] = [_judge(timeline, w, baseline) for w in judged]
    during = [timeline.window(w.start.t_ns, w.end_ns) for w in judged]
    figures = {
        "windows": {w.fault: {"requests": s.count, "errors": s.errors,
                              "availability": round(1 - s.error_rate, 4) if s.count else None,
                              "p99_ms": s.p99_ms, "status": status.value}
                    for w, s, (status, _, _) in zip(judged, during, verdicts, strict=True)},
        "baseline_error_rate": round(baseline.error_rate, 4), "baseline_p99_ms": baseline.p99_ms,
        "not_judged": [w.fault for w in windows if w not in judged],
    }
    status = overall_status(v[0] for v in verdicts)
    lines = [text for s, text, _ in verdicts if s is status]
    evidence = tuple(e for s, _, found in verdicts if s is not Status.PASS for e in found)
    more = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
    return Finding(NAME, status, lines[0] + more, evidence, figures)


def _fault_windows(timeline: Timeline) -> list[_Window]:
    ends = {e.details.get("fault_id"): e.t_ns for e in timeline.events(kind=EventKind.FAULT_END)}
    windows = []
    for start in timeline.events(kind=EventKind.FAULT_START):
        raw = start.details.get("steady_state")
        fault_id = start.details.get("fault_id")
        if raw is None or start.details.get("unavailable") or fault_id not in ends:
            continue
        windows.append(_Window(f"{start.source}#{fault_id}", start, ends[fault_id], ClientBudget(**raw)))
    return windows


def _judge(timeline: Timeline, window: _Window, baseline: WindowStats) -> tuple[Status, str, tuple[Evidence, ...]]:
    budget, start_ns = window.budget, window.start.t_ns
    stats = timeline.window(start_ns, window.end_ns)
    if stats.count == 0:
        return (Status.INCONCLUSIVE, f"no request was made during {window.fault}: what clients saw is unknown "
                                     "(raise load.users, or make the fault last longer)", ())
    seen = (f"{stats.count - stats.errors} of {stats.count} requests ok during {window.fault} "
            f"(availability {1 - stats.error_rate:.4f}, p99 {stats.p99_ms or 0:.1f} ms)")
    if budget.max_error_rate is not None:
        allowed = max(budget.max_error_rate, baseline.error_rate * 1.5)
        if stats.errors >= MIN_ERRORS and stats.error_rate > allowed:
            failed = [r for r in timeline.requests(start_ns, window.end_ns) if not r.ok]
            return (Status.FAIL, f"clients failed during {window.fault}: {stats.errors} of {stats.count} requests "
                                 f"({stats.error_rate:.1%} > {allowed:.1%} allowed, baseline "
                                 f"{baseline.error_rate:.1%}); most often {commonest(failed)}",
                    (Evidence(failed[0].t_ns, f"first failed request during {window.fault}: {said(failed[0])}"),))
    if budget.p99_factor is not None and stats.count >= MIN_REQUESTS_FOR_P99 and baseline.p99_ms is not None:
        bound = max(baseline.p99_ms * budget.p99_factor, budget.p99_floor_ms)
        if (stats.p99_ms or 0.0) > bound:
            return (Status.FAIL, f"clients slowed during {window.fault}: p99 {stats.p99_ms:.1f} ms > {bound:.1f} ms "
                                 f"bound ({budget.p99_factor:g}x the baseline's {baseline.p99_ms:.1f} ms, at least "
                                 f"{budget.p99_floor_ms:g} ms)", (Evidence(start_ns, seen),))
    return Status.PASS, seen, ()
