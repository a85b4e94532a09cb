"""The injector contract, the registry, and the framework that wraps every injection.

An injector is a small named object with typed params; it only knows how to do its fault, prove
it landed and undo it. Everything common lives in `run_fault`: start/end events on the Timeline,
health before and after, a Finding that says whether the fault landed, and the revert in `finally`
(on errors and on Ctrl-C too).
"""

from __future__ import annotations

import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from chaos.errors import InjectionFailed, ScenarioError
from chaos.platform.base import Platform, RunningTarget
from chaos.platform.etcd import EtcdLeadership
from chaos.readiness import http_ok
from chaos.suggest import did_you_mean
from chaos.targets import TargetSpec
from chaos.timeline import EventKind, Timeline
from chaos.verdict import Evidence, Finding, Status


class InjectorParams(BaseModel):
    """Base of every injector's parameters: frozen, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass
class InjectionContext:
    """What an injector may touch: the platform, the timeline, etcd, and a seeded RNG."""

    platform: Platform
    timeline: Timeline
    etcd: EtcdLeadership[Any] | None = None
    rng: random.Random = field(default_factory=random.Random)
    #: Set when the run is being torn down (Ctrl-C, an error): injectors stop early and revert.
    stop: threading.Event = field(default_factory=threading.Event)

    def target(self, name: str) -> RunningTarget:
        return self.platform.target(name)

    def sleep_until(self, deadline: float) -> None:
        """Sleep until `time.monotonic()` reaches `deadline`; InjectionFailed if stopped first."""
        if self.stop.wait(max(0.0, deadline - time.monotonic())):
            raise InjectionFailed("the run is stopping; fault cut short")


@dataclass(frozen=True, slots=True)
class FaultOutcome:
    """What an injector saw of its own fault: did it land, and the figures that show it."""

    landed: bool
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FaultReport:
    """One fault as it happened, on the run's clock."""

    name: str
    fault_id: int
    target: str | None
    start_ns: int
    end_ns: int
    outcome: FaultOutcome

    def finding(self) -> Finding:
        status = Status.PASS if self.outcome.landed else Status.INCONCLUSIVE
        verb = "landed" if self.outcome.landed else "did not land"
        return Finding(
            check=f"fault:{self.name}#{self.fault_id}",
            status=status,
            summary=f"{self.name} {verb}: {self.outcome.summary}",
            evidence=(Evidence(self.start_ns, f"started on {self.target or 'cluster'}"),
                      Evidence(self.end_ns, "ended")),
            figures=dict(self.outcome.details),
        )


class Injector(ABC):
    """One fault family. Subclasses set `name`, `description` and `Params`, and register."""

    name: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[InjectorParams]] = InjectorParams
    needs_target: ClassVar[bool] = True

    def __init__(self, params: InjectorParams, target: str | None = None) -> None:
        if self.needs_target and not target:
            raise ScenarioError(f"injector {self.name} needs a `target`")
        self.params = params
        self.target_name = target

    def available(self, ctx: InjectionContext) -> str | None:
        """None when this fault can be injected here, else the reason it cannot."""
        return None

    def shape_target(self, spec: TargetSpec) -> TargetSpec:
        """The spec of this fault's target as it must be started for the fault to work (before start)."""
        return spec

    def expected_duration_s(self) -> float:
        """An upper bound on how long `inject` takes (sizes the load's hard time limit)."""
        return 60.0

    def plan(self) -> str:
        """One line for dry runs: what would be done."""
        params = ", ".join(f"{k}={v}" for k, v in self.params.model_dump(mode="json", exclude_none=True).items())
        return f"{self.name} on {self.target_name or 'cluster'}: {params}"

    @abstractmethod
    def inject(self, ctx: InjectionContext) -> FaultOutcome:
        """Do the fault, record each sub-action on the timeline, and say whether it landed."""

    def revert(self, ctx: InjectionContext) -> None:  # noqa: B027 - optional hook
        """Undo whatever the fault left behind; always called, even after errors."""


REGISTRY: dict[str, type[Injector]] = {}


def register(cls: type[Injector]) -> type[Injector]:
    REGISTRY[cls.name] = cls
    return cls


def create(name: str, params: Mapping[str, Any], target: str | None) -> Injector:
    """Instantiate a registered injector with validated params; ScenarioError when it can't."""
    import chaos.injectors  # noqa: F401 - registers the bundled injectors

    try:
        cls = REGISTRY[name]
    except KeyError:
        raise ScenarioError(f"unknown injector {name!r}{did_you_mean(name, REGISTRY)}") from None
    try:
        validated = cls.Params(**params)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise ScenarioError(f"injector {name} params: {problems}") from e
    return cls(validated, target)


def run_fault(injector: Injector, ctx: InjectionContext, fault_id: int) -> FaultReport:
    """Inject with the framework around it: events, health, landing proof, revert in finally."""
    reason = injector.available(ctx)
    if reason is not None:
        raise InjectionFailed(f"{injector.name} cannot run here: {reason}")
    target = injector.target_name
    healthy_before = _healthy(ctx, target)
    start = ctx.timeline.record(EventKind.FAULT_START, injector.name, fault_id=fault_id, target=target,
                                params=injector.params.model_dump(), healthy=healthy_before)
    outcome = FaultOutcome(False, "the injector did not finish")
    try:
        outcome = injector.inject(ctx)
    except InjectionFailed as e:
        outcome = FaultOutcome(False, str(e))
    finally:
        injector.revert(ctx)
        end = ctx.timeline.record(EventKind.FAULT_END, injector.name, fault_id=fault_id, target=target,
                                  landed=outcome.landed, healthy=_healthy(ctx, target))
    return FaultReport(injector.name, fault_id, target, start.t_ns, end.t_ns, outcome)


def _healthy(ctx: InjectionContext, target: str | None) -> bool | None:
    if target is None:
        return None
    running = ctx.target(target)
    path = running.spec.readiness.http_path
    return http_ok(running.endpoint.url + path, timeout_s=0.3) if path else None
