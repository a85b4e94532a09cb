"""The injector contract, the registry, and the framework that wraps every injection.

An injector is a small named object with typed params; it only knows how to do its fault, prove
it landed and undo it. Everything common lives in `run_fault`: start/end events on the Timeline,
health before and after, a Finding that says whether the fault landed, and the revert in `finally`
(on errors and on Ctrl-C too).

Params are checked whole when the scenario loads (`create`), so `--dry-run` refuses what the run
would refuse: one model per injector, or, where the fields differ per mode, one model per mode
joined by a pydantic discriminator (`by_mode`). Only what depends on the platform waits for
`available()` at run time; a fault the platform cannot do is reported not landed (inconclusive),
with the one-line reason, and the run goes on.
"""

from __future__ import annotations

import random
import threading
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from chaos.client_budget import STRICT, ClientBudget
from chaos.errors import InjectionFailed, ScenarioError, TargetDown
from chaos.injectors.punctual import Punctual, punctual_faults
from chaos.observe.readiness import passes
from chaos.platform.base import Platform, RunningTarget
from chaos.platform.etcd import EtcdLeadership
from chaos.suggest import did_you_mean
from chaos.targets import TargetSpec
from chaos.timeline import EventKind, Timeline
from chaos.verdict import Evidence, Finding, Status


class InjectorParams(BaseModel):
    """Base of every injector's parameters: frozen, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def by_mode(key: str, default: str) -> tuple[FieldInfo, BeforeValidator]:
    """Metadata joining one params model per mode: ``Annotated[A | B, *by_mode("method", "a")]``.

    Each member fixes `key` to its mode with a Literal (defaulting to it); the union picks the member
    by `key`, which means `default` when left out. Fields of other modes are then unknown fields of
    the member (`extra="forbid"`), and `create` says which mode they belong to.
    """

    def fill_default(value: Any) -> Any:
        return {key: default, **value} if isinstance(value, Mapping) else value

    return Field(discriminator=key), BeforeValidator(fill_default)


@dataclass
class InjectionContext:
    """What an injector may touch: the platform, the timeline, etcd, and a seeded RNG."""

    platform: Platform
    timeline: Timeline
    etcd: EtcdLeadership[Any] | None = None
    rng: random.Random = field(default_factory=random.Random)
    #: Set when the run is being torn down (Ctrl-C, an error): injectors stop early and revert.
    stop: threading.Event = field(default_factory=threading.Event)
    punctual: Punctual = field(default_factory=Punctual)

    def target(self, name: str) -> RunningTarget:
        return self.platform.target(name)

    def sleep_until(self, deadline: float) -> None:
        """Sleep until `time.monotonic()` reaches `deadline`, on time even on a busy machine (chaos.injectors.
        punctual); InjectionFailed if the run stops first."""
        if not self.punctual.sleep_until(deadline, self.stop):
            raise InjectionFailed("the run is stopping; fault cut short")


@dataclass(frozen=True, slots=True)
class FaultOutcome:
    """What an injector saw of its own fault: did it land, and the figures that show it."""

    landed: bool
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)
    #: What the service failed to do that the fault itself proves (e.g. a reload it must take never went
    #: live while its probes answered): the fault's finding fails with it.
    failure: str | None = None


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
        summary = f"{self.name} {verb}: {self.outcome.summary}"
        if self.outcome.failure is not None:
            status, summary = Status.FAIL, f"{self.name}: {self.outcome.failure}"
        return Finding(
            check=f"fault:{self.name}#{self.fault_id}",
            status=status,
            summary=summary,
            evidence=(Evidence(self.start_ns, f"started on {self.target or 'cluster'}"),
                      Evidence(self.end_ns, "ended")),
            figures=dict(self.outcome.details),
        )


P = TypeVar("P", bound=InjectorParams)


class Injector(ABC, Generic[P]):
    """One fault family, typed by its params `P`. Subclasses set `name`, `description` and `Params`
    and are listed in `chaos.injectors.INJECTORS`."""

    name: ClassVar[str]
    description: ClassVar[str]
    #: An InjectorParams model, or one per mode joined on a key (``Annotated[A | B, *by_mode(...)]``).
    Params: ClassVar[Any] = InjectorParams
    needs_target: ClassVar[bool] = True
    #: What clients may see while this fault runs, unless the scenario's `steady_state:` says otherwise.
    client_budget: ClassVar[ClientBudget] = STRICT

    def __init__(self, params: P, target: str | None = None, *, steady_state: ClientBudget | None = None) -> None:
        if self.needs_target and not target:
            raise ScenarioError(f"injector {self.name} needs a `target`")
        self.params: P = params
        self.target_name = target
        self._steady_state = steady_state
        #: The budget in force for this fault: the injector's default with the scenario's fields over it.
        self.budget = self.client_budget.merged(steady_state)

    def fresh(self) -> Injector[P]:
        """The same fault, not yet injected: what one run injects (an instance keeps what it changed)."""
        return type(self)(self.params, self.target_name, steady_state=self._steady_state)

    def available(self, ctx: InjectionContext) -> str | None:
        """None when this fault can be injected here, else the reason it cannot."""
        return None

    def shape_target(self, spec: TargetSpec) -> TargetSpec:
        """The spec of this fault's target as it must be started for the fault to work (before start)."""
        return spec

    def expected_duration_s(self) -> float:
        """An upper bound on how long `inject` takes (sizes the load's hard time limit)."""
        return 60.0

    @classmethod
    def read_files(cls, params: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
        """`params` with the files they name (relative to the scenario file) read in, at load time."""
        return dict(params)

    def describe_target(self, spec: TargetSpec) -> list[str]:
        """Dry-run lines about what this fault will write to `spec`; ScenarioError (before anything starts)
        when it cannot be done to it."""
        return []

    def plan(self) -> str:
        """One line for dry runs: what would be done."""
        shown = {k: (f"[{len(v)} given]" if isinstance(v, list) and v and isinstance(v[0], dict) else v)
                 for k, v in self.params.model_dump(mode="json", exclude_none=True).items() if v != []}
        params = ", ".join(f"{k}={v}" for k, v in shown.items())
        return f"{self.name} on {self.target_name or 'cluster'}: {params}"

    @abstractmethod
    def inject(self, ctx: InjectionContext) -> FaultOutcome:
        """Do the fault, record each sub-action on the timeline, and say whether it landed."""

    def revert(self, ctx: InjectionContext) -> None:
        """Undo whatever the fault left behind; always called, even after errors."""


def create_from(registry: Mapping[str, type[Injector[Any]]], name: str, params: Mapping[str, Any],
                target: str | None, steady_state: ClientBudget | None = None) -> Injector[Any]:
    """Instantiate injector `name` of `registry` with validated params; ScenarioError when it can't."""
    try:
        cls = registry[name]
    except KeyError:
        raise ScenarioError(f"unknown injector {name!r}{did_you_mean(name, registry)}") from None
    try:
        validated = _validator(cls).validate_python(params)
    except ValidationError as e:
        problems = "; ".join(_problem(name, cls.Params, err) for err in e.errors())
        raise ScenarioError(f"injector {name} params: {problems}") from e
    return cls(validated, target, steady_state=steady_state)


@cache
def _validator(cls: type[Injector[Any]]) -> TypeAdapter[InjectorParams]:
    return TypeAdapter(cls.Params)


def default_mode(params_type: Any) -> str | None:
    """The mode params joined by `by_mode` take when their key is left out; None for a single model."""
    for meta in get_args(params_type)[1:]:
        if isinstance(meta, BeforeValidator):
            filled = meta.func({})  # type: ignore[call-arg]
            return str(next(iter(filled.values())))
    return None


def _modes(params_type: Any) -> tuple[str, dict[str, type[InjectorParams]]] | None:
    """(key, {mode: model}) of params joined by `by_mode`; None for a single model."""
    union, *metadata = get_args(params_type) or (params_type,)
    key = next((m.discriminator for m in metadata
                if isinstance(m, FieldInfo) and isinstance(m.discriminator, str)), None)
    if key is None:
        return None
    return key, {str(member.model_fields[key].default): member for member in get_args(union)}


def _problem(name: str, params_type: Any, err: ErrorDetails) -> str:
    """One validation error as `field: what is wrong`, naming the mode when the params have modes."""
    loc = [str(part) for part in err["loc"]]
    message = err["msg"].removeprefix("Value error, ")
    extra = err["type"] == "extra_forbidden" and bool(loc)
    fields: Collection[str] = getattr(params_type, "model_fields", ())
    modes = _modes(params_type)
    if modes is not None:
        key, members = modes
        if err["type"] == "union_tag_invalid":
            tag = str(err.get("ctx", {}).get("tag"))
            return f"{key}: {tag!r} is not a {name} {key}{did_you_mean(tag, members)}"
        if loc and loc[0] in members:
            mode = loc.pop(0)
            fields = members[mode].model_fields
            owners = [m for m, model in members.items() if extra and loc[-1] in model.model_fields]
            if owners:
                owner = ", ".join(owners[:-1]) + f" or {owners[-1]}" if len(owners) > 1 else owners[0]
                return (f"{loc[-1]}: {key} {mode} does not take {loc[-1]} (it is for {key} {owner}); "
                        f"remove it or change {key}")
            if extra:
                message += f" for {key} {mode}"
    if extra:
        message += did_you_mean(loc[-1], fields)
    return f"{'.'.join(loc)}: {message}" if loc else message


def run_fault(injector: Injector[Any], ctx: InjectionContext, fault_id: int) -> FaultReport:
    """Inject with the framework around it: events, health, landing proof, revert in finally."""
    target = injector.target_name
    reason = injector.available(ctx)
    if reason is not None:  # said in the verdict (inconclusive), never skipped silently; nothing was touched
        start = ctx.timeline.record(EventKind.FAULT_START, injector.name, fault_id=fault_id, target=target,
                                    params=injector.params.model_dump(), unavailable=reason)
        end = ctx.timeline.record(EventKind.FAULT_END, injector.name, fault_id=fault_id, target=target, landed=False)
        return FaultReport(injector.name, fault_id, target, start.t_ns, end.t_ns,
                           FaultOutcome(False, f"unavailable here: {reason}", {"unavailable": reason}))
    healthy_before = _healthy(ctx, target)
    start = ctx.timeline.record(EventKind.FAULT_START, injector.name, fault_id=fault_id, target=target,
                                params=injector.params.model_dump(), healthy=healthy_before,
                                steady_state=injector.budget.model_dump())
    outcome = FaultOutcome(False, "the injector did not finish")
    down: list[str] = []  # a target that died under the fault: its crash is the verdict, not this run's error
    try:
        with punctual_faults():
            outcome = injector.inject(ctx)
    except InjectionFailed as e:
        outcome = FaultOutcome(False, str(e))
    except TargetDown as e:
        down.append(str(e))
        outcome = FaultOutcome(False, f"the target went down during the fault ({e})", {"target_down": str(e)})
    finally:
        try:
            injector.revert(ctx)
        except TargetDown as e:  # nothing of a dead process is left to undo
            down.append(f"revert: {e}")
        details: dict[str, Any] = {"target_down": down} if down else {}
        end = ctx.timeline.record(EventKind.FAULT_END, injector.name, fault_id=fault_id, target=target,
                                  landed=outcome.landed, healthy=_healthy(ctx, target), **details)
    return FaultReport(injector.name, fault_id, target, start.t_ns, end.t_ns, outcome)


def _healthy(ctx: InjectionContext, target: str | None) -> bool | None:
    if target is None:
        return None
    running = ctx.target(target)
    return passes(running.spec.readiness, running.endpoint, timeout_s=0.3)
