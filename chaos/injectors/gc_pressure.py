"""gc_pressure: GC and memory pressure on a Go service (incident 4), with proof that it landed.

Methods:
- `agent`: through chaosagent inside the service: ballast, garbage churn, GC percent, memory
  limit, a forced-GC loop (each reverts by itself after the duration, and explicitly in revert);
- `env`: restart the service with GOGC / GOMEMLIMIT (no cooperation needed), restart it back;
- `cgroup`: squeeze its memory with a cgroup of its own (v1 or v2), lifted in revert; on Kubernetes
  the pod's own limits, resized in place (no restart) and restored in revert;
- `hog`: a bounded co-located memory and CPU hog (go_targets/cmd/hog): a process beside the
  target, or on Kubernetes a BestEffort pod on the target's node.
The params are one model per method (`AgentPressure`, `EnvPressure`, `CgroupPressure`,
`HogPressure`), told apart by `method`: a field of another method, or a method with nothing to
apply, is refused when the scenario loads.
The proof is the GC rate during the fault against the rate just before it, from the gctrace
lines every launched Go service prints (or the agent's runtime snapshot), or, for the hog, that
the hog really held its memory.
"""

from __future__ import annotations

import enum
import time
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import Field, SerializationInfo, SerializerFunctionWrapHandler, model_serializer, model_validator

from chaos.chaosagent import AgentClient, agent_for
from chaos.client_budget import DISRUPTIVE, ClientBudget
from chaos.errors import InjectionFailed
from chaos.injectors.base import FaultOutcome, InjectionContext, Injector, InjectorParams, by_mode
from chaos.observe import gctrace
from chaos.platform.abilities import Hog, HogPlacement, ResourceLimit, ResourceLimits, missing, require
from chaos.targets import TargetSpec, WorkloadChange, with_workload_change
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

#: Every method's fields, in the order fault.start events and dry-run plans have always listed them.
RECORD = ("method", "duration_s", "ballast_mb", "churn_mb_per_sec", "gc_percent", "memory_limit_mb",
          "force_gc_interval_ms", "cpu_limit_millicores", "hog_mb", "hog_cpu", "min_rate_factor")


class _Pressure(InjectorParams):
    """What every method takes.

    Dumped (the fault.start event's params, the dry-run plan) as one flat record of every method's
    fields in `RECORD` order, the other methods' at their defaults: reports and captured runs read
    gc_pressure params in that shape, whatever the method.
    """

    duration_s: float = Field(5.0, gt=0, le=3600, description="How long the pressure lasts")

    @model_serializer(mode="wrap")
    def _record(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        own: dict[str, Any] = handler(self)
        others = {name: default for name, default in _DEFAULTS.items()
                  if name not in type(self).model_fields and not info.exclude_defaults
                  and not (default is None and info.exclude_none)}
        return dict(sorted({**others, **own}.items(), key=lambda item: RECORD.index(item[0])))


class _GCRatePressure(_Pressure):
    """What the methods proven by the GC rate take; each needs at least one of its `applies` fields."""

    #: The fields of which at least one must be set, and what to say when none is.
    applies: ClassVar[tuple[str, ...]] = ()
    nothing_to_apply: ClassVar[str] = ""

    min_rate_factor: float = Field(1.5, ge=1, description="Landed when the GC rate rises this much")

    @model_validator(mode="after")
    def _something_to_apply(self) -> Self:
        if all(getattr(self, name) is None for name in self.applies):
            raise ValueError(self.nothing_to_apply)
        return self


class AgentPressure(_GCRatePressure):
    """Through chaosagent inside the service; each action reverts by itself after the duration."""

    method: Literal[GCMethod.AGENT] = Field(GCMethod.AGENT, description="How the pressure is applied")
    ballast_mb: int | None = Field(None, ge=1, description="MiB held live")
    churn_mb_per_sec: int | None = Field(None, ge=1, description="MiB/s of garbage")
    gc_percent: int | None = Field(None, ge=-1, description="debug.SetGCPercent")
    memory_limit_mb: int | None = Field(None, ge=1, description="debug.SetMemoryLimit, in MiB")
    force_gc_interval_ms: int | None = Field(None, ge=1, description="runtime.GC() this often")

    applies = ("ballast_mb", "churn_mb_per_sec", "gc_percent", "memory_limit_mb", "force_gc_interval_ms")
    nothing_to_apply = f"method agent needs at least one of {', '.join(applies)}"



class EnvPressure(_GCRatePressure):
    """The service restarted with GOGC / GOMEMLIMIT, and restarted back."""

    method: Literal[GCMethod.ENV] = Field(GCMethod.ENV, description="How the pressure is applied")
    gc_percent: int | None = Field(None, ge=-1, description="GOGC (negative: off)")
    memory_limit_mb: int | None = Field(None, ge=1, description="GOMEMLIMIT, in MiB")

    applies = ("gc_percent", "memory_limit_mb")
    nothing_to_apply = "method env needs gc_percent (GOGC) and/or memory_limit_mb (GOMEMLIMIT)"



class CgroupPressure(_GCRatePressure):
    """The service's memory and/or CPU squeezed by a cgroup of its own (on Kubernetes, its pod's limits)."""

    method: Literal[GCMethod.CGROUP] = Field(GCMethod.CGROUP, description="How the pressure is applied")
    memory_limit_mb: int | None = Field(None, ge=1, description="The cgroup's memory limit, in MiB")
    cpu_limit_millicores: int | None = Field(None, ge=1, description="CFS quota, in thousandths of a CPU "
                                                                     "(a Kubernetes CPU limit)")

    applies = ("memory_limit_mb", "cpu_limit_millicores")
    nothing_to_apply = "method cgroup needs memory_limit_mb and/or cpu_limit_millicores"



class HogPressure(_Pressure):
    """A bounded memory and CPU hog beside the service; proven by the memory it held."""

    method: Literal[GCMethod.HOG] = Field(GCMethod.HOG, description="How the pressure is applied")
    hog_mb: int = Field(256, ge=1, le=16384, description="MiB the hog process holds")
    hog_cpu: bool = Field(True, description="Also spin one CPU")


METHODS = (AgentPressure, EnvPressure, CgroupPressure, HogPressure)
_DEFAULTS = {name: info.default for model in METHODS for name, info in model.model_fields.items()}

#: gc_pressure's params: one model per method, picked by `method` (agent when left out).
GCPressureParams = Annotated[AgentPressure | EnvPressure | CgroupPressure | HogPressure,
                             *by_mode("method", GCMethod.AGENT)]


class GCPressure(Injector[AgentPressure | EnvPressure | CgroupPressure | HogPressure]):
    name = "gc_pressure"
    description = "GC / memory pressure: ballast, churn, GOGC, memory limit, forced GC, cgroup squeeze, hog"
    Params = GCPressureParams
    client_budget = DISRUPTIVE  # a squeezed service may shed load and slow down; bound it with steady_state

    def __init__(self, params: AgentPressure | EnvPressure | CgroupPressure | HogPressure,
                 target: str | None = None, *, steady_state: ClientBudget | None = None) -> None:
        super().__init__(params, target, steady_state=steady_state)
        self._agent: AgentClient | None = None
        self._restored_env: dict[str, str | None] | None = None
        self._limit: ResourceLimit | None = None
        self._hog: Hog | None = None

    def shape_target(self, spec: TargetSpec) -> TargetSpec:
        """A rollout with GOGC/GOMEMLIMIT, or an in-place resize of its pods, changes a deployed workload: its run
        must be allowed to patch it (or its pods' resize)."""
        if isinstance(self.params, EnvPressure):
            return with_workload_change(spec, WorkloadChange.ENV)
        if isinstance(self.params, CgroupPressure):
            return with_workload_change(spec, WorkloadChange.RESIZE)
        return spec

    def expected_duration_s(self) -> float:
        return self.params.duration_s + 30

    def available(self, ctx: InjectionContext) -> str | None:
        assert self.target_name is not None
        target = ctx.target(self.target_name)
        ability = _ABILITY_NEEDED.get(self.params.method)
        if ability is not None and (reason := missing(ctx.platform, ability)) is not None:
            return reason
        if self.params.method is GCMethod.AGENT and agent_for(target) is None:
            return f"target {self.target_name} has no chaosagent switched on; use method env, cgroup or hog"
        return None

    def inject(self, ctx: InjectionContext) -> FaultOutcome:
        assert self.target_name is not None
        target = ctx.target(self.target_name)
        p = self.params
        window_s = p.duration_s
        before_start = now_ns() - int(min(window_s, 5.0) * 1e9)
        before_agent = self._agent_snapshot(target)
        started = now_ns()
        details: dict[str, Any] = {"method": p.method.value}
        match p:
            case AgentPressure():
                self._apply_agent(ctx, p, details)
            case EnvPressure():
                self._apply_env(ctx, p, details)
            case CgroupPressure():
                self._apply_cgroup(ctx, p, details)
            case HogPressure():
                self._apply_hog(ctx, p, details)
        ctx.timeline.record(EventKind.GC_PRESSURE, self.name, target=self.target_name, **details)
        hog_peak = self._hold(ctx, time.monotonic() + p.duration_s)
        ended = now_ns()
        if isinstance(p, HogPressure):
            details["hog_peak_mb"] = hog_peak
            landed = hog_peak >= 0.9 * p.hog_mb
            return FaultOutcome(landed, f"hog held {hog_peak} of {p.hog_mb} MiB for "
                                        f"{p.duration_s:g}s", details)
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
        seen = self._signals(p, rate_before, rate_during, before, during)
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

    @staticmethod
    def _signals(p: AgentPressure | EnvPressure | CgroupPressure, rate_before: float, rate_during: float,
                 before: gctrace.GCActivity, during: gctrace.GCActivity) -> list[str]:
        """What in the GC figures shows the pressure: a faster GC, the ballast held, a capped heap."""
        seen = []
        if rate_during > 0 and rate_during >= p.min_rate_factor * rate_before:
            seen.append(f"GC rate x{rate_during / max(rate_before, 1e-9):.1f}")
        live_before = before.heap_live_max_mb or 0
        ballast_mb = p.ballast_mb if isinstance(p, AgentPressure) else None
        if ballast_mb and (during.heap_live_max_mb or 0) >= live_before + 0.8 * ballast_mb:
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
    def _apply_agent(self, ctx: InjectionContext, p: AgentPressure, details: dict[str, Any]) -> None:
        assert self.target_name is not None
        agent = agent_for(ctx.target(self.target_name))
        assert agent is not None
        self._agent = agent
        d = p.duration_s + 1
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

    def _apply_env(self, ctx: InjectionContext, p: EnvPressure, details: dict[str, Any]) -> None:
        assert self.target_name is not None
        env: dict[str, str | None] = {}
        if p.gc_percent is not None:
            env["GOGC"] = "off" if p.gc_percent < 0 else str(p.gc_percent)
        if p.memory_limit_mb is not None:
            env["GOMEMLIMIT"] = f"{p.memory_limit_mb}MiB"
        self._restored_env = ctx.platform.restart_target(self.target_name, env=env)
        details["env"] = env

    def _apply_cgroup(self, ctx: InjectionContext, p: CgroupPressure, details: dict[str, Any]) -> None:
        assert self.target_name is not None
        memory = p.memory_limit_mb * MB if p.memory_limit_mb is not None else None
        limit = require(ctx.platform, ResourceLimits).resource_limit(
            self.target_name, memory_bytes=memory, cpu_millicores=p.cpu_limit_millicores)
        self._limit = limit
        limit.apply()
        details["cgroups"] = [str(group) for group, _ in limit.groups]

    def _apply_hog(self, ctx: InjectionContext, p: HogPressure, details: dict[str, Any]) -> None:
        assert self.target_name is not None
        hog = require(ctx.platform, HogPlacement).start_hog(
            self.target_name, mb=p.hog_mb, cpu=p.hog_cpu, duration_s=p.duration_s + 5)
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
