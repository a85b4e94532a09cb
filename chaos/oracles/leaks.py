"""No leaks: goroutines and live heap return to their baseline after the faults.

Two checks, from whatever the service exposes (`chaos.observe.runtime_sources`: chaosagent, Prometheus
`go_goroutines`, pprof's goroutine dump) or, for the heap alone, its gctrace lines:
- idle: goroutines with no load at all, before the load started and after it stopped and drained
  (`runtime.idle` events). Every goroutine still alive after is one that never exits: the most
  precise leak signal, immune to how busy the service was. Set against the storm's writes it is
  also growth per reload, and with pprof the surplus is named by the function that created it;
- under load: the median of the baseline window against the median of the last `tail_s` seconds
  (`runtime.sample` events), for goroutines and live heap; for a service with no heap reading,
  the live heap of its gctrace lines.
A verdict names only what was measured: no goroutine reading, no word about goroutines but the fix.
"""

from __future__ import annotations

import statistics

from pydantic import Field

from chaos.observe import gctrace
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
    judged: dict[str, set[str]] = {}  # what was measured -> where it was read
    for target in ctx.targets:
        name = target.spec.name
        idle = [e for e in ctx.timeline.events(kind=EventKind.RUNTIME_IDLE)
                if e.source == name and "goroutines" in e.details]
        if len(idle) >= 2:
            judged.setdefault("goroutines", set()).add(str(idle[-1].details.get("via", "chaosagent")))
            before, after = idle[0].details["goroutines"], idle[-1].details["goroutines"]
            writes = _reload_writes(ctx, name)
            figures[f"{name}.idle_goroutines"] = {"before_load": before, "after_load": after,
                                                  "limit": before + params.idle_slack, "reload_writes": writes}
            if after > before + params.idle_slack:
                per = f", +{(after - before) / writes:.1f} per reload over {writes} writes" if writes else ""
                creator = _top_creator(idle[0].details.get("creators"), idle[-1].details.get("creators"))
                problems.append(f"{name} kept {after - before} goroutines alive after the load stopped "
                                f"({before} -> {after} with no load{per})" + (f"; {creator}" if creator else ""))
                evidence.append(Evidence(idle[-1].t_ns, f"{name}: {before} goroutines idle before the load, "
                                                        f"{after} idle after it stopped and drained"
                                                        + (f"; {creator}" if creator else "")))
        samples = [e for e in ctx.timeline.events(kind=EventKind.RUNTIME_SAMPLE) if e.source == name]
        base = [e for e in samples if phases.baseline_start <= e.t_ns < phases.faults_start]
        tail = [e for e in samples if tail_start <= e.t_ns <= phases.observe_end]
        series: dict[str, tuple[list[float], list[float], float, float, str]] = {}
        for key, metric, scale, factor, slack in (
                ("goroutines", "goroutines", 1, params.goroutine_factor, params.goroutine_slack),
                ("heap_live_bytes", "heap_live_mb", MB, params.heap_factor, params.heap_slack_mb)):
            before_values = [e.details[key] / scale for e in base if key in e.details]
            after_values = [e.details[key] / scale for e in tail if key in e.details]
            if before_values and after_values:
                series[metric] = (before_values, after_values, factor, slack, str(tail[-1].details.get("via")))
        if "heap_live_mb" not in series:  # no heap reading: live heap from gctrace, if the service prints it
            cycles = gctrace.parse(target.logs())
            gc_base = [float(c.heap_live_mb) for c in cycles if phases.baseline_start <= c.t_ns < phases.faults_start]
            gc_tail = [float(c.heap_live_mb) for c in cycles if tail_start <= c.t_ns <= phases.observe_end]
            if gc_base and gc_tail:
                series["heap_live_mb"] = (gc_base, gc_tail, params.heap_factor, params.heap_slack_mb, "gctrace")
        for metric, (before, after, factor, slack, source) in series.items():
            judged.setdefault("live heap" if metric == "heap_live_mb" else "goroutines", set()).add(source)
            b, a = statistics.median(before), statistics.median(after)
            limit = b * factor + slack
            figures[f"{name}.{metric}"] = {"baseline": round(b, 1), "after": round(a, 1), "limit": round(limit, 1)}
            if a > limit:
                problems.append(f"{name} {metric} {b:.0f} -> {a:.0f} after the faults (limit {limit:.0f})")
                evidence.append(Evidence(phases.observe_end, f"{name} {metric}: baseline median {b:.1f}, "
                                                             f"last {params.tail_s:g}s median {a:.1f}"))
    if not judged:
        return Finding(NAME, Status.INCONCLUSIVE, "nothing to judge leaks by: no target showed its runtime in both "
                                                  "the baseline and the end of the run; " + EXPOSE_ONE, (), figures)
    if problems:
        return Finding(NAME, Status.FAIL, "; ".join(problems), tuple(evidence), figures)
    by_source: dict[str, list[str]] = {}
    for what, where in sorted(judged.items()):
        by_source.setdefault(", ".join(sorted(where)), []).append(what)
    summary = "; ".join(f"{' and '.join(whats)} back to baseline ({source})" for source, whats in by_source.items())
    if "goroutines" not in judged:
        summary += "; goroutine count not measured: " + EXPOSE_ONE
    return Finding(NAME, Status.PASS, summary, (), figures)


#: How a service shows its runtime to this oracle (the fix named in an inconclusive finding).
EXPOSE_ONE = ("serve Prometheus' Go collector (go_goroutines, e.g. promhttp.Handler()) or net/http/pprof on a port "
              "the target lists in `ports`, link chaosagent, or print GODEBUG=gctrace=1 lines (heap only)")


def _reload_writes(ctx: OracleContext, target: str) -> int:
    """Config writes the storms made to `target` (the original put back not counted)."""
    return sum(1 for e in ctx.timeline.events(kind=EventKind.RELOAD_WRITE)
               if e.details.get("target") == target and e.details.get("mutation") != "revert")


def _top_creator(before: dict[str, int] | None, after: dict[str, int] | None) -> str | None:
    """The function that created most of the surplus goroutines (pprof dumps), as goleak names a leak."""
    if not after:
        return None
    surplus = {fn: n - (before or {}).get(fn, 0) for fn, n in after.items()}
    fn, extra = max(surplus.items(), key=lambda item: item[1])
    return f"{extra} more created by {fn}" if extra > 0 else None


ORACLE = Oracle(NAME, LeaksParams, check)
