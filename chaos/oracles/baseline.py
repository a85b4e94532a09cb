"""Is there enough load, and a healthy baseline, to judge at all?

Without requests nothing can be judged, and a service already failing before any fault tells
nothing about the fault: both make the run INCONCLUSIVE rather than letting it pass.
"""

from __future__ import annotations

from chaos.oracles.context import OracleContext
from chaos.oracles.failed_requests import commonest
from chaos.verdict import Evidence, Finding, Status

NAME = "baseline"
MIN_REQUESTS = 20
MAX_ERROR_RATE = 0.05


def check(ctx: OracleContext) -> Finding:
    phases = ctx.phases
    base = ctx.timeline.window(phases.baseline_start, phases.faults_start)
    whole = ctx.timeline.window(phases.baseline_start, phases.observe_end)
    figures = {
        "baseline_requests": base.count, "baseline_error_rate": round(base.error_rate, 4),
        "baseline_p50_ms": base.p50_ms, "baseline_p99_ms": base.p99_ms,
        "baseline_rps": round(base.rps, 1), "total_requests": whole.count,
    }
    if whole.count < MIN_REQUESTS or (phases.faults_start > phases.baseline_start
                                      and base.count < MIN_REQUESTS):
        return Finding(NAME, Status.INCONCLUSIVE,
                       f"too little load to judge: {base.count} baseline / {whole.count} total "
                       f"requests (need {MIN_REQUESTS}){_why_so_few(ctx)}", (), figures)
    if base.count and base.error_rate > MAX_ERROR_RATE:
        return Finding(NAME, Status.INCONCLUSIVE,
                       f"baseline already unhealthy: {base.error_rate:.1%} errors before any fault",
                       (Evidence(phases.baseline_start, "baseline window start"),), figures)
    return Finding(NAME, Status.PASS,
                   f"baseline {base.rps:.0f} rps, {base.error_rate:.1%} errors, p99 "
                   f"{base.p99_ms or 0:.1f} ms", (), figures)


def _why_so_few(ctx: OracleContext) -> str:
    """What the few requests there were got: a service whose requests hang or fail is not a light load."""
    records = ctx.timeline.requests(ctx.phases.baseline_start, ctx.phases.observe_end)
    failed = [r for r in records if not r.ok]
    if not records:
        return ("; no request finished at all: is the load aimed at the right host and port, and does the service "
                "answer?")
    slowest = max(r.latency_ms for r in records)
    if failed:
        return (f"; {len(failed)} of {len(records)} failed, most often {commonest(failed)}, the slowest after "
                f"{slowest / 1000:.1f} s: the service (or something it waits on) is not answering")
    if slowest >= SLOW_MS:
        return f"; the slowest request took {slowest / 1000:.1f} s: its handlers (or what they wait on) hang"
    return "; every request was quick: raise load.users or the baseline window"


#: A request this slow among too few means the service is stuck, not that the load is light.
SLOW_MS = 1000.0
