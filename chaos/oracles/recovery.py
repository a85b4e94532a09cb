"""Bounded recovery: after the faults end, the service is back to its steady state within a bound.

Steady state is learned from the baseline window, not assumed. Recovery time runs from the end of
the fault phase to the first instant t (probed every `step_ms`) such that the window [t, t+hold_ms)
as a whole stays within the thresholds (error rate and p99 relative to the baseline): judging a
whole window keeps one slow 100 ms slice on a shared machine from reading as "not recovered".
A service that never gets there inside the observation window is reported as never recovered,
with the worst figures seen.
"""

from __future__ import annotations

from pydantic import Field

from chaos.oracles.base import Oracle, OracleParams
from chaos.oracles.context import OracleContext
from chaos.timeline import EventKind, WindowStats
from chaos.verdict import Evidence, Finding, Status

NAME = "recovery"
#: Figures of its finding that history reads across runs.
RECOVERY_S, AVAILABILITY = "recovery_s", "availability_during_faults"


class RecoveryParams(OracleParams):
    bound_s: float = Field(5.0, gt=0, description="Longest acceptable recovery after the faults end")
    hold_ms: int = Field(1000, ge=100, description="How long the service must stay healthy to count")
    step_ms: int = Field(100, ge=50, description="Width of the windows judged healthy or not")
    max_error_rate: float = Field(0.01, ge=0, le=1, description="Errors allowed in a healthy window "
                                                               "(or the baseline rate, if higher)")
    p99_factor: float = Field(3.0, ge=1, description="Healthy p99 <= factor x baseline p99 ...")
    p99_floor_ms: float = Field(25.0, ge=0, description="... or this many ms, whichever is higher")


def check(ctx: OracleContext, params: RecoveryParams) -> Finding:
    phases, timeline = ctx.phases, ctx.timeline
    baseline = timeline.window(phases.baseline_start, phases.faults_start)
    if baseline.count == 0:
        return Finding(NAME, Status.INCONCLUSIVE, "no baseline requests: steady state unknown")
    max_errors = max(params.max_error_rate, baseline.error_rate * 1.5)
    max_p99 = max((baseline.p99_ms or 0.0) * params.p99_factor, params.p99_floor_ms)

    def healthy(window: WindowStats) -> bool:
        return (window.count > 0 and window.error_rate <= max_errors
                and (window.p99_ms or 0.0) <= max_p99)

    during = timeline.window(phases.faults_start, phases.faults_end)
    worst = max((b.p99_ms or 0.0 for b in timeline.buckets(1000, phases.faults_start, phases.observe_end)),
                default=0.0)
    figures = {
        "baseline_error_rate": round(baseline.error_rate, 4), "baseline_p99_ms": baseline.p99_ms,
        "threshold_error_rate": round(max_errors, 4), "threshold_p99_ms": round(max_p99, 2),
        AVAILABILITY: round(1 - during.error_rate, 4) if during.count else None,
        "worst_p99_ms_1s": round(worst, 2), "bound_s": params.bound_s,
    }
    if not ctx.timeline.events(kind=EventKind.FAULT_START):
        return Finding(NAME, Status.INCONCLUSIVE, "no fault was injected: there is nothing to recover from "
                                                  "(drop this oracle, or add a fault)", (), figures)
    recovered_at = timeline.first_healthy_window(phases.faults_end, phases.observe_end, params.hold_ms,
                                                 healthy, step_ms=params.step_ms)
    if recovered_at is None:
        observed_s = (phases.observe_end - phases.faults_end) / 1e9
        figures[RECOVERY_S] = None
        tail = timeline.window(max(phases.faults_end, phases.observe_end - 1_000_000_000), phases.observe_end)
        return Finding(
            NAME, Status.FAIL,
            f"never recovered: no {params.hold_ms} ms healthy stretch in the {observed_s:.1f} s after the "
            f"faults (last second: {tail.error_rate:.1%} errors, p99 {tail.p99_ms or 0:.1f} ms; "
            f"healthy means <= {max_errors:.1%} errors and p99 <= {max_p99:.1f} ms)",
            (Evidence(phases.faults_end, "faults ended"),
             Evidence(phases.observe_end, f"observation ended: {tail.count} requests in its last second, "
                                          f"{tail.errors} failed")),
            figures,
        )
    recovery_s = max(0.0, (recovered_at - phases.faults_end) / 1e9)
    figures[RECOVERY_S] = round(recovery_s, 3)
    summary = (f"recovered {recovery_s:.2f} s after the faults (bound {params.bound_s:g} s); "
               f"availability during faults {figures[AVAILABILITY]}")
    status = Status.PASS if recovery_s <= params.bound_s else Status.FAIL
    if status is Status.FAIL:
        summary = f"recovery took {recovery_s:.2f} s > {params.bound_s:g} s bound"
    return Finding(NAME, status, summary, (Evidence(recovered_at, "steady state regained"),), figures)


ORACLE = Oracle(NAME, RecoveryParams, check)
