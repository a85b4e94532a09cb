"""gc_pressure: GC and memory pressure on a Go service (incident 4), with proof that it landed.

Methods:
- `agent`: through chaosagent inside the service: ballast, garbage churn, GC percent, memory
  limit, a forced-GC loop (each reverts by itself after the duration, and explicitly in revert);
- `env`: restart the service with GOGC / GOMEMLIMIT (no cooperation needed), restart it back;
- `cgroup`: squeeze its memory with a cgroup of its own (v1 or v2), lifted in revert; on Kubernetes
  the pod's own limits, resized in place (no restart) and restored in revert;
- `hog`: a bounded co-located memory and CPU hog (go_targets/cmd/hog): a process beside the
  target, or on Kubernetes a BestEffort pod on the target's node.
The proof is the GC rate during the fault against the rate just before it, from the gctrace
lines every launched Go service prints (or the agent's runtime snapshot), or, for the hog, that
the hog really held its memory.
"""

from __future__ import annotations

import enum
import time
from typing import Any

from pydantic import Field

from chaos import gctrace
from chaos.chaosagent import AgentClient, agent_for
from chaos.errors import InjectionFailed
from chaos.injectors.base import FaultOutcome, InjectionContext, Injector, InjectorParams, register
from chaos.platform.abilities import Hog, HogPlacement, ResourceLimit, ResourceLimits, missing, require
from chaos.timeline import EventKind, now_ns

MB = 1 << 20
PERIOD_MS = 100


class GCMethod(enum.StrEnum):
    AGENT = "agent"
    ENV = "env"
    CGROUP = "cgroup"
    HOG = "hog"


#: The platform ability each method needs beyond the core contract (agent and env need none).
_ABILITY_NEEDED: dict[GCMethod, type[object]] = {GCMethod.CGROUP: ResourceLimits, GCMethod.HOG: HogPlacement}


class GCPressureParams(InjectorParams):
    method: GCMethod = Field(GCMethod.AGENT, description="How the pressure is applied")
    duration_s: float = Field(5.0, gt=0, le=3600, description="How long the pressure lasts")
    ballast_mb: int | None = Field(None, ge=1, description="agent: MiB held live")
    churn_mb_per_sec: int | None = Field(None, ge=1, description="agent: MiB/s of garbage")
    gc_percent: int | None = Field(None, ge=-1, description="agent: debug.SetGCPercent; env: GOGC")
    memory_limit_mb: int | None = Field(None, ge=1, description="agent: SetMemoryLimit; env: GOMEMLIMIT; "
                                                                "cgroup: the cgroup's memory limit")
    force_gc_interval_ms: int | None = Field(None, ge=1, description="agent: runtime.GC() this often")
    cpu_limit_millicores: int | None = Field(None, ge=1, description="cgroup: CFS quota, in thousandths of "
                                                                     "a CPU (a Kubernetes CPU limit)")
    hog_mb: int = Field(256, ge=1, le=16384, description="hog: MiB the hog process holds")
    hog_cpu: bool = Field(True, description="hog: also spin one CPU")
    min_rate_factor: float = Field(1.5, ge=1, description="Landed when the GC rate rises this much")


@register
class GCPressure(Injector):
    name = "gc_pressure"
    description = "GC / memory pressure: ballast, churn, GOGC, memory limit, forced GC, cgroup squeeze, hog"
    Params = GCPressureParams

    def __init__(self, params: InjectorParams, target: str | None = None) -> None:
        super().__init__(params, target)
        self._agent: AgentClient | None = None
        self._restored_env: dict[str, str | None] | None = None
        self._limit: ResourceLimit | None = None
        self._hog: Hog | None = None

    @property
    def p(self) -> GCPressureParams:
        assert isinstance(self.params, GCPressureParams)
        return self.params

    def expected_duration_s(self) -> float:
        return self.p.duration_s + 30

    def available(self, ctx: InjectionContext) -> str | None:
        assert self.target_name is not None
        target = ctx.target(self.target_name)
        ability = _ABILITY_NEEDED.get(self.p.method)
        if ability is not None and (reason := missing(ctx.platform, ability)) is not None:
            return reason
        if self.p.method is GCMethod.AGENT and agent_for(target) is None:
            return f"target {self.target_name} has no chaosagent switched on; use method env, cgroup or hog"
        if self.p.method is GCMethod.AGENT and not any(
            v is not None for v in (self.p.ballast_mb, self.p.churn_mb_per_sec, self.p.gc_percent,
                                    self.p.memory_limit_mb, self.p.force_gc_interval_ms)):
            return "method agent needs at least one of ballast_mb, churn_mb_per_sec, gc_percent, " \
                   "memory_limit_mb, force_gc_interval_ms"
        if self.p.method is GCMethod.CGROUP and self.p.memory_limit_mb is None and self.p.cpu_limit_millicores is None:
            return "method cgroup needs memory_limit_mb and/or cpu_limit_millicores"
        if self.p.method is GCMethod.ENV and self.p.gc_percent is None and self.p.memory_limit_mb is None:
            return "method env needs gc_percent (GOGC) and/or memory_limit_mb (GOMEMLIMIT)"
        return None

    def inject(self, ctx: InjectionContext) -> FaultOutcome:
        assert self.target_name is not None
        target = ctx.target(self.target_name)
        window_s = self.p.duration_s
        before_start = now_ns() - int(min(window_s, 5.0) * 1e9)
        before_agent = self._agent_snapshot(target)
        started = now_ns()
        details: dict[str, Any] = {"method": self.p.method.value}
        apply = {GCMethod.AGENT: self._apply_agent, GCMethod.ENV: self._apply_env,
                 GCMethod.CGROUP: self._apply_cgroup, GCMethod.HOG: self._apply_hog}[self.p.method]
        apply(ctx, details)
        ctx.timeline.record(EventKind.GC_PRESSURE, self.name, target=self.target_name, **details)
        hog_peak = self._hold(ctx, time.monotonic() + self.p.duration_s)
        ended = now_ns()
        if self.p.method is GCMethod.HOG:
            details["hog_peak_mb"] = hog_peak
            landed = hog_peak >= 0.9 * self.p.hog_mb
            return FaultOutcome(landed, f"hog held {hog_peak} of {self.p.hog_mb} MiB for "
                                        f"{self.p.duration_s:g}s", details)
        cycles = gctrace.parse(target.logs(since_ns=before_start))
        before = gctrace.activity(cycles, before_start, started)
        during = gctrace.activity(cycles, started, ended)
        rate_before, rate_during = before.per_second, during.per_second
        source = "gctrace"
        if not cycles:  # GODEBUG overridden: fall back to the agent's GC counter
            after_agent = self._agent_snapshot(target)
            if before_agent is None or after_agent is None:
                return FaultOutcome(False, "no gctrace lines and no chaosagent: GC activity unseen", details)
            source = "chaosagent"
            rate_during = (after_agent["gc_cycles"] - before_agent["gc_cycles"]) / max((ended - started) / 1e9, 1e-9)
            rate_before = 0.0
        details.update({"gc_per_s_before": round(rate_before, 2), "gc_per_s_during": round(rate_during, 2),
                        "gc_pause_p99_ms_during": during.pause_p99_ms,
                        "heap_live_max_mb_during": during.heap_live_max_mb, "measured_by": source})
        crashed = any(e.t_ns >= started for e in target.exits() if not e.requested)
        seen = self._signals(rate_before, rate_during, before, during)
        throttled = self._limit.throttled_periods() if self._limit is not None else None
        if throttled:
            details["cpu_throttled_periods"] = throttled
            seen.append(f"CPU throttled in {throttled} periods of {PERIOD_MS} ms")
        if crashed:
            seen.append("the target exited under pressure")
        details["signals"] = seen
        summary = f"GC rate {rate_before:.1f}/s -> {rate_during:.1f}/s ({source}); " + (
            "; ".join(seen) if seen else "no sign of the pressure in the GC figures")
        return FaultOutcome(bool(seen), summary, details)

    def _signals(self, rate_before: float, rate_during: float, before: gctrace.GCActivity,
                 during: gctrace.GCActivity) -> list[str]:
        """What in the GC figures shows the pressure: a faster GC, the ballast held, a capped heap."""
        p, seen = self.p, []
        if rate_during > 0 and rate_during >= p.min_rate_factor * rate_before:
            seen.append(f"GC rate x{rate_during / max(rate_before, 1e-9):.1f}")
        live_before = before.heap_live_max_mb or 0
        if p.ballast_mb and (during.heap_live_max_mb or 0) >= live_before + 0.8 * p.ballast_mb:
            seen.append(f"live heap {live_before} -> {during.heap_live_max_mb} MB (ballast held)")
        if p.memory_limit_mb and during.heap_goal_max_mb is not None \
                and during.heap_goal_max_mb <= 1.1 * p.memory_limit_mb < (before.heap_goal_max_mb or 0) + 1e9:
            seen.append(f"heap goal kept under the {p.memory_limit_mb} MB limit (max {during.heap_goal_max_mb} MB)")
        return seen

    def revert(self, ctx: InjectionContext) -> None:
        """Lift whatever is still applied: agent actions, env, cgroup, hog."""
        assert self.target_name is not None
        if self._agent is not None:
            agent, self._agent = self._agent, None
            try:
                agent.revert_all()
            except InjectionFailed:
                if ctx.target(self.target_name).pid is not None:
                    raise  # alive but refusing: the pressure may still be on
                # dead (e.g. OOM-killed): its agent state died with it
        if self._restored_env is not None:
            env, self._restored_env = self._restored_env, None
            ctx.platform.restart_target(self.target_name, env=env)
        if self._limit is not None:
            limit, self._limit = self._limit, None
            limit.remove()
        if self._hog is not None:
            hog, self._hog = self._hog, None
            hog.stop()

    # -- methods -----------------------------------------------------------------------------
    def _apply_agent(self, ctx: InjectionContext, details: dict[str, Any]) -> None:
        assert self.target_name is not None
        agent = agent_for(ctx.target(self.target_name))
        assert agent is not None
        self._agent = agent
        d, p = self.p.duration_s + 1, self.p
        actions = []
        if p.ballast_mb is not None:
            actions.append(agent.start("ballast", duration_s=d, mb=p.ballast_mb))
        if p.churn_mb_per_sec is not None:
            actions.append(agent.start("churn", duration_s=d, mb_per_sec=p.churn_mb_per_sec))
        if p.gc_percent is not None:
            actions.append(agent.start("gc-percent", duration_s=d, percent=p.gc_percent))
        if p.memory_limit_mb is not None:
            actions.append(agent.start("memory-limit", duration_s=d, mb=p.memory_limit_mb))
        if p.force_gc_interval_ms is not None:
            actions.append(agent.start("force-gc", duration_s=d, interval=f"{p.force_gc_interval_ms}ms"))
        details["agent_actions"] = [a.get("kind") for a in actions]

    def _apply_env(self, ctx: InjectionContext, details: dict[str, Any]) -> None:
        assert self.target_name is not None
        env: dict[str, str | None] = {}
        if self.p.gc_percent is not None:
            env["GOGC"] = "off" if self.p.gc_percent < 0 else str(self.p.gc_percent)
        if self.p.memory_limit_mb is not None:
            env["GOMEMLIMIT"] = f"{self.p.memory_limit_mb}MiB"
        self._restored_env = ctx.platform.restart_target(self.target_name, env=env)
        details["env"] = env

    def _apply_cgroup(self, ctx: InjectionContext, details: dict[str, Any]) -> None:
        assert self.target_name is not None
        memory = self.p.memory_limit_mb * MB if self.p.memory_limit_mb is not None else None
        limit = require(ctx.platform, ResourceLimits).resource_limit(
            self.target_name, memory_bytes=memory, cpu_millicores=self.p.cpu_limit_millicores)
        self._limit = limit
        limit.apply()
        details["cgroups"] = [str(group) for group, _ in limit.groups]

    def _apply_hog(self, ctx: InjectionContext, details: dict[str, Any]) -> None:
        assert self.target_name is not None
        hog = require(ctx.platform, HogPlacement).start_hog(
            self.target_name, mb=self.p.hog_mb, cpu=self.p.hog_cpu, duration_s=self.p.duration_s + 5)
        self._hog = hog
        details["hog"] = hog.where

    def _hold(self, ctx: InjectionContext, deadline: float) -> int:
        """Wait out the fault (stoppable); return the hog's peak RSS in MiB (0 without a hog)."""
        peak = 0
        while time.monotonic() < deadline:
            ctx.sleep_until(min(deadline, time.monotonic() + 0.2))
            if self._hog is not None:
                peak = max(peak, self._hog.rss_mb())
        return peak

    def _agent_snapshot(self, target: object) -> dict[str, Any] | None:
        agent = agent_for(target)  # type: ignore[arg-type]
        if agent is None:
            return None
        try:
            return agent.runtime()
        except InjectionFailed:
            return None
