"""No leaks: goroutines and live heap return to their baseline after the faults.

Two checks, from chaosagent's runtime/metrics:
- idle: goroutines with no load at all, before the load started and after it stopped and drained
  (`runtime.idle` events). Every goroutine still alive after is one that never exits: the most
  precise leak signal, immune to how busy the service was;
- under load: the median of the baseline window against the median of the last `tail_s` seconds
  (`runtime.sample` events), for goroutines and live heap; for a service without the agent, the
  live heap of its gctrace lines.
"""

from __future__ import annotations

import statistics

from pydantic import Field

from chaos import gctrace
from chaos.oracles.base import Oracle, OracleParams
from chaos.oracles.context import OracleContext
from chaos.timeline import EventKind
from chaos.verdict import Evidence, Finding, Status

NAME = "leaks"
MB = 1 << 20


class LeaksParams(OracleParams):
    goroutine_factor: float = Field(1.5, ge=1, description="After <= factor x baseline goroutines ...")
    goroutine_slack: int = Field(20, ge=0, description="... + this many")
    heap_factor: float = Field(1.5, ge=1, description="After <= factor x baseline live heap ...")
    heap_slack_mb: float = Field(16.0, ge=0, description="... + this many MiB")
    tail_s: float = Field(1.5, gt=0, description="The end of the observation window judged as 'after'")
    idle_slack: int = Field(3, ge=0, description="Goroutines more, with no load, after than before")


def check(ctx: OracleContext, params: LeaksParams) -> Finding:
    phases = ctx.phases
    tail_start = max(phases.faults_end, phases.observe_end - int(params.tail_s * 1e9))
    problems: list[str] = []
    evidence: list[Evidence] = []
    figures: dict[str, object] = {}
    judged = 0
    for target in ctx.targets:
        name = target.spec.name
        idle = [e for e in ctx.timeline.events(kind=EventKind.RUNTIME_IDLE) if e.source == name]
        if len(idle) >= 2:
            judged += 1
            before, after = idle[0].details["goroutines"], idle[-1].details["goroutines"]
            figures[f"{name}.idle_goroutines"] = {"before_load": before, "after_load": after,
                                                  "limit": before + params.idle_slack}
            if after > before + params.idle_slack:
                problems.append(f"{name} kept {after - before} goroutines alive after the load stopped "
                                f"({before} -> {after} with no load)")
                evidence.append(Evidence(idle[-1].t_ns, f"{name}: {before} goroutines idle before the load, "
                                                        f"{after} idle after it stopped and drained"))
        samples = [e for e in ctx.timeline.events(kind=EventKind.RUNTIME_SAMPLE) if e.source == name]
        base = [e for e in samples if phases.baseline_start <= e.t_ns < phases.faults_start]
        tail = [e for e in samples if tail_start <= e.t_ns <= phases.observe_end]
        series: dict[str, tuple[list[float], list[float], float, float]] = {}
        if base and tail:
            series["goroutines"] = ([e.details["goroutines"] for e in base], [e.details["goroutines"] for e in tail],
                                    params.goroutine_factor, params.goroutine_slack)
            series["heap_live_mb"] = ([e.details["heap_live_bytes"] / MB for e in base],
                                      [e.details["heap_live_bytes"] / MB for e in tail],
                                      params.heap_factor, params.heap_slack_mb)
        else:  # no agent: live heap from gctrace, if the service prints it
            cycles = gctrace.parse(target.logs())
            gc_base = [float(c.heap_live_mb) for c in cycles if phases.baseline_start <= c.t_ns < phases.faults_start]
            gc_tail = [float(c.heap_live_mb) for c in cycles if tail_start <= c.t_ns <= phases.observe_end]
            if gc_base and gc_tail:
                series["heap_live_mb"] = (gc_base, gc_tail, params.heap_factor, params.heap_slack_mb)
        for metric, (before, after, factor, slack) in series.items():
            judged += 1
            b, a = statistics.median(before), statistics.median(after)
            limit = b * factor + slack
            figures[f"{name}.{metric}"] = {"baseline": round(b, 1), "after": round(a, 1), "limit": round(limit, 1)}
            if a > limit:
                problems.append(f"{name} {metric} {b:.0f} -> {a:.0f} after the faults (limit {limit:.0f})")
                evidence.append(Evidence(phases.observe_end, f"{name} {metric}: baseline median {b:.1f}, "
                                                             f"last {params.tail_s:g}s median {a:.1f}"))
    if judged == 0:
        return Finding(NAME, Status.INCONCLUSIVE, "no runtime samples (chaosagent) or gctrace heap figures "
                                                  "in both the baseline and the end of the run", (), figures)
    if problems:
        return Finding(NAME, Status.FAIL, "; ".join(problems), tuple(evidence), figures)
    return Finding(NAME, Status.PASS, "goroutines and live heap back to baseline", (), figures)


ORACLE = Oracle(NAME, LeaksParams, check)
