"""What a run will do, decided before anything starts: the `Plan`, and the dry run that prints it.

`build_plan` decides the seed, the fault schedule, the targets as the faults need them started,
etcd, the load and its time limit; `run_scenario` follows that plan without deciding anything again,
and `describe` prints it, so the dry run shows exactly what the run would do with the same seed.
Building and describing a plan touch nothing: no build, no process, no file written.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from chaos import extras
from chaos.errors import ScenarioError, UsageError
from chaos.external_etcd import ExternalEtcd
from chaos.injectors import create
from chaos.injectors.base import Injector
from chaos.injectors.reload import ReloadStorm, write_mode_refusal
from chaos.load import LoadSpec
from chaos.load.grpc_spec import anchor_paths
from chaos.load.options import option_problems
from chaos.load.spec import BUILTIN_USERS
from chaos.network import links as network
from chaos.network.links import LinkKind, LinkPlan, LinkRequest, NeedsLinks
from chaos.oracles import ORACLES
from chaos.platform.factory import platform_kind
from chaos.platform.kinds import PlatformKind
from chaos.scenario import EtcdEntry, LoadEntry, Scenario, fault_phase_problem
from chaos.suggest import did_you_mean
from chaos.targets import (
    GO_OBSERVABILITY_ENV,
    PLACEHOLDERS,
    ReloadTrigger,
    TargetSpec,
    WorkloadChange,
    chaosagent_env,
    check_placeholders,
    fill_placeholders,
)

if TYPE_CHECKING:
    from chaos.load import LoadSpec

#: Added to the load's time limit beyond baseline, fault budget and observation: the runner stops the
#: load itself after the observe window, so the limit only ends a load nothing else stopped.
LOAD_SLACK_S = 30.0


@dataclass(frozen=True, slots=True)
class ScheduledFault:
    """One injection: when (seconds after the fault phase starts), what, and its own random stream."""

    at_s: float
    #: What the fault does, to which target, for how long: what the plan shows and checks. A run injects
    #: a fresh instance (`instance()`), as injectors keep what they changed until they revert it.
    injector: Injector[Any]
    #: Seeds this fault's random stream alone (drawn from the run's seed): faults that overlap draw in
    #: their own threads, so a shared stream would interleave by timing and `--seed` would not replay.
    seed: int = 0

    def instance(self) -> Injector[Any]:
        """A fresh injector for one run of this fault."""
        return self.injector.fresh()


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """The load as the run starts it: on which target, with which user, and when it stops at the latest."""

    target: str
    user: str
    users: int
    spawn_rate: float
    options: Mapping[str, Any]
    #: The target's named port it loads (None: its main one).
    port: str | None
    #: Hard time limit: baseline + the fault budget + observation + LOAD_SLACK_S.
    limit_s: float
    #: Locust workers as pods beside an in-cluster run (0: the load runs in the run's own processes).
    worker_pods: int = 0
    #: The load reaches its target through a chaosproxy link (a network fault on link `load` needs it).
    routed: bool = False
    #: Requests per second in total, held constant (`load.rate`); None: as fast as `users` go.
    rate: float | None = None

    def spec(self, host: str) -> LoadSpec:
        """The LoadSpec against `host`, the started target's URL (known only once it runs)."""
        try:
            return LoadSpec(host=host, user=self.user, users=self.users, spawn_rate=self.spawn_rate,
                            duration_s=self.limit_s, rate=self.rate, **self.options)
        except ValidationError as e:  # the plan checked the options: what is left is e.g. the target's host
            problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'load'}: "
                                 f"{err['msg'].removeprefix('Value error, ')}" for err in e.errors())
            raise ScenarioError(f"load on {self.target}: {problems}") from e


@dataclass(frozen=True, slots=True)
class Plan:
    """One run, decided: what the dry run prints is what `run_scenario` does."""

    scenario: Scenario
    platform: PlatformKind
    buggy: bool
    seed: int
    #: Every fault at its offset from the start of the fault phase, in start order.
    schedule: tuple[ScheduledFault, ...]
    #: The targets, in start order, as the faults aimed at them need them started.
    targets: tuple[TargetSpec, ...]
    #: The etcd cluster to start first (the scenario's, or the defaults when a target needs one), or None.
    etcd: EtcdEntry | None
    #: From the start of the fault phase to the latest a fault can end.
    fault_budget_s: float
    #: Every load, run at once (empty: none).
    loads: tuple[LoadPlan, ...]
    #: What each fault of `schedule` will do to its target beyond its params (e.g. every variant's diff).
    fault_details: tuple[tuple[str, ...], ...] = ()
    #: The links routed through chaosproxy from the start, for the network faults (empty: no proxy).
    links: LinkPlan = dataclasses.field(default_factory=LinkPlan)


def resolve_seed(scenario: Scenario, seed: int | None) -> int:
    """The flag's seed, else the scenario's, else a fresh one (printed in every report)."""
    if seed is not None:
        return seed
    if scenario.seed is not None:
        return scenario.seed
    return random.SystemRandom().randrange(2**31)


def fault_schedule(scenario: Scenario, seed: int) -> list[ScheduledFault]:
    """Every repetition of every fault at its offset, jitter drawn from `seed`, in start order."""
    rng = random.Random(seed)
    planned = sorted(((at_s, f) for f in scenario.faults for at_s in f.offsets(rng)), key=lambda p: p[0])
    return [ScheduledFault(at_s, create(f.injector, f.params, f.target, f.steady_state), fault_seed(seed, n))
            for n, (at_s, f) in enumerate(planned, start=1)]


def fault_seed(seed: int, fault_id: int) -> int:
    """The seed of the `fault_id`-th fault (in start order) of a run seeded `seed`."""
    return random.Random(f"{seed}/fault/{fault_id}").randrange(2**31)


def require_buggy_variant(scenario: Scenario) -> None:
    """A buggy run must run something else than the fixed one: refuse a scenario with no bug to switch on."""
    if not any(t.buggy_flags or t.buggy_go_install or t.buggy_build or t.buggy_command for t in scenario.targets):
        raise UsageError(f"scenario {scenario.name}: the buggy build was asked for (`gochaos reproduce`, "
                         "gochaos_run(buggy=True)), but no target says what that is, so it would run the fixed "
                         "build again: give a target `buggy_flags` (flags that switch its bug on), "
                         "`buggy_go_install` (the release with the bug of a `go_install` service), `buggy_build` "
                         "(the source with the bug of a `build` service) or `buggy_command` (how your service runs "
                         "with its bug)")


def build_plan(scenario: Scenario, base_dir: Path, *, platform: str, buggy: bool = False,
               seed: int | None = None) -> Plan:
    """Everything the run will do, decided up front: the dry run prints it, `run_scenario` follows it.

    Raises what the run would raise before starting anything: an unknown platform, a config file
    that cannot be read, load with no user that fits its target, an extra the run needs not installed.
    """
    kind = platform_kind(platform)
    if buggy:
        require_buggy_variant(scenario)
    seed = resolve_seed(scenario, seed)
    _check_fault_phase(scenario)
    schedule = tuple(fault_schedule(scenario, seed))
    targets = tuple(_shaped(entry.spec(base_dir, buggy=buggy), schedule) for entry in scenario.targets)
    for spec in targets:
        try:
            check_placeholders(spec)
        except ScenarioError as e:
            raise ScenarioError(_in_file(scenario, str(e))) from e
    _check_reload_targets(scenario, targets, kind)
    unrolled = [s.name for s in targets if s.deployed is not None and s.deployed.workload is None
                and WorkloadChange.ENV in s.workload_changes]
    if unrolled:
        raise UsageError(f"target {unrolled[0]}: gc_pressure method env rolls out its workload, and pods named by "
                         "`deployed.selector` have none: name it with `deployed.workload`, or use method cgroup or "
                         "agent")
    for spec in targets:
        if (refused := kind.refusal(spec)) is not None:
            raise UsageError(refused)
        if spec.readiness.grpc_health is not None:
            extras.require("grpc", f"target {spec.name} is ready by the gRPC health check (ready_grpc)")
    etcd = scenario.etcd
    if etcd is None and any(spec.needs_etcd for spec in targets):
        etcd = EtcdEntry()
    if etcd is not None and etcd.external is not None:
        etcd = etcd.model_copy(update={"external": _external(etcd.external, targets, kind, base_dir)})
    budget = max((f.at_s + f.injector.expected_duration_s() for f in schedule), default=0.0)
    by_name = {spec.name: spec for spec in targets}
    details = tuple(tuple(f.injector.describe_target(by_name[f.injector.target_name]))
                    if f.injector.target_name in by_name else () for f in schedule)
    loads = tuple(_load_plan(entry, number, scenario, targets, budget, base_dir)
                  for number, entry in enumerate(scenario.load_entries()))
    links = _plan_links(scenario, targets, etcd, loads, kind)
    loads = tuple(replace(load, routed=True) if links.load(load.target, load.port) else load for load in loads)
    return Plan(scenario=scenario, platform=kind, buggy=buggy, seed=seed, schedule=schedule, targets=targets,
                etcd=etcd, fault_budget_s=budget, loads=loads, fault_details=details, links=links)


def _in_file(scenario: Scenario, message: str, fault: int | None = None) -> str:
    """`message` prefixed with the scenario's file (and the line of fault number `fault`), as the loader names
    its problems."""
    source = scenario.source
    field = f"faults.{fault}: " if fault is not None else ""
    if source is None:
        return f"{field}{message}"
    line = source.fault_lines[fault] if fault is not None and fault < len(source.fault_lines) else None
    return f"{source.path}:{line}: {field}{message}" if line else f"{source.path}: {field}{message}"


def _check_fault_phase(scenario: Scenario) -> None:
    """Every fault ends within MAX_FAULT_PHASE_S (the loader checks a file's; this holds a scenario built in code
    to it too)."""
    for number, fault in enumerate(scenario.faults):
        problem = fault_phase_problem(fault, create(fault.injector, fault.params, fault.target))
        if problem is not None:
            raise ScenarioError(_in_file(scenario, problem, number))


def _check_reload_targets(scenario: Scenario, targets: tuple[TargetSpec, ...], kind: PlatformKind) -> None:
    """What a reload storm's `available()` refuses at run time about its target, refused before anything starts:
    a target with no config to reload, a write mode that cannot reach its config (a deployed service's config
    changes only through its ConfigMap)."""
    entries = dict(zip((spec.name for spec in targets), zip(scenario.targets, targets, strict=True), strict=True))
    for number, fault in enumerate(scenario.faults):
        if fault.injector != ReloadStorm.name or fault.target not in entries:
            continue
        entry, spec = entries[fault.target]
        name = spec.name
        if spec.config is None:
            if spec.deployed is not None:
                fix = (f"{name} is a deployed service with no `deployed.config`: give it `deployed.config` (the "
                       "ConfigMap or Secret key its config file is in)")
            elif entry.bundled is not None:
                fix = (f"{name} is the bundled {entry.bundled}, which reads no config file: storm configd, or a "
                       "service of your own with a `config_file`")
            else:
                trigger = (f", so its `reload: {entry.reload.value}` has nothing to trigger"
                           if "reload" in entry.model_fields_set else "")
                fix = (f"{name} has no `config_file`{trigger}: give target {name} a `config_file` (its initial config, "
                       "relative to the scenario file, passed to it as {config}); a trigger-only storm (pattern: "
                       "unchanged, trigger_only: true) needs one too, as the storm reads the config the service "
                       "runs with")
            raise ScenarioError(_in_file(scenario, f"reload_storm on {name}: no config to reload: {fix}", number))
        why = write_mode_refusal(ReloadStorm.Params.model_validate(fault.params), spec, kind.write_modes(spec))
        if why is not None:
            raise ScenarioError(_in_file(scenario, f"reload_storm on {name}: {why}", number))


def _external(external: ExternalEtcd, targets: tuple[TargetSpec, ...], kind: PlatformKind,
              base_dir: Path) -> ExternalEtcd:
    """The team's etcd as this run uses it, refused (exit 2) where the run could not reach it."""
    if (refused := kind.external_etcd_refusal(targets, tls=external.tls is not None)) is not None:
        raise UsageError(refused)
    return external.checked_for(kind, base_dir)


def _plan_links(scenario: Scenario, targets: tuple[TargetSpec, ...], etcd: EtcdEntry | None,
                loads: tuple[LoadPlan, ...], kind: PlatformKind) -> LinkPlan:
    """The links the network faults need routed from the start; refused (with the fault's line) where the run could
    not route one: a platform without chaosproxy, a target with no etcd, an upstream named nowhere, no load."""
    shape = None if etcd is None else network.EtcdShape(etcd.members, etcd.external is not None)
    loaded = [(load.target, load.port) for load in loads]
    requests: list[LinkRequest] = []
    for number, fault in enumerate(scenario.faults):
        injector = create(fault.injector, fault.params, fault.target)
        if not isinstance(injector, NeedsLinks):
            continue
        member = injector.link_member()
        for request in injector.link_requests():
            load = next((load for load in loads if request.kind is LinkKind.LOAD
                         and (load.target, load.port) == (request.target, request.port)), None)
            if load is not None:  # a load link's transport follows the load's
                request = replace(request, protocol=network.load_transport(load.user, load.options))
            spec = next((t for t in targets if t.name == request.target), None)
            if (refused := kind.link_refusal(request, spec)) is not None:
                raise UsageError(_in_file(scenario, f"{fault.injector} on {fault.target or 'etcd'}: {refused}",
                                          number))
            problem = network.link_problem(request, member, targets, shape, loaded)
            if problem is None and load is not None:
                problem = injector.transport_problem(request.protocol)
                if problem is not None:
                    problem = f"the load link carries {request.protocol} ({load.user} load): {problem}"
                elif load.worker_pods:
                    problem = ("the load link carries the load this run drives itself; worker pods send theirs to "
                               "the Service directly, past the link: drop `load.worker_pods`")
            if problem is not None:
                raise ScenarioError(_in_file(scenario, f"{fault.injector} on {fault.target or 'etcd'}: {problem}",
                                             number))
            requests.append(request)
    return LinkPlan.of(requests)


def _shaped(spec: TargetSpec, schedule: tuple[ScheduledFault, ...]) -> TargetSpec:
    """`spec` as the faults aimed at it need it started (e.g. its config mounted from a ConfigMap)."""
    for fault in schedule:
        if fault.injector.target_name == spec.name:
            spec = fault.injector.shape_target(spec)
    return spec


def _load_plan(entry: LoadEntry, number: int, scenario: Scenario, targets: tuple[TargetSpec, ...],
               fault_budget_s: float, base_dir: Path) -> LoadPlan:
    target = next(spec for spec in targets if entry.target in (None, spec.name))
    user = entry.user or target.load_user
    if user is None:
        raise UsageError(_load_in_file(scenario, number, _no_user_fits(target.name)))
    windows = scenario.windows
    options = dict(entry.options)
    if isinstance(options.get("grpc"), dict):  # its .proto files are relative to the scenario
        options["grpc"] = anchor_paths(options["grpc"], base_dir)
    _check_load_options(user, options)
    if entry.worker_pods and (target.deployed is None or target.deployed.service is None):
        raise UsageError(f"load.worker_pods: worker pods load {target.name} through its Service; give the target "
                         "`deployed.service` (a service already deployed on the cluster, run from inside it)")
    if entry.port is not None and entry.port not in target.ports:
        raise UsageError(f"load on {target.name}: port {entry.port!r} is not one of its `ports`"
                         f"{did_you_mean(entry.port, target.ports)}")
    return LoadPlan(target=target.name, user=user, users=entry.users, spawn_rate=entry.spawn_rate,
                    options=options, port=entry.port, worker_pods=entry.worker_pods, rate=entry.rate,
                    limit_s=windows.baseline_s + windows.observe_s + fault_budget_s + LOAD_SLACK_S)


def _no_user_fits(target: str) -> str:
    """Why a load on `target`, a service of the team's own, has no user, and the users it could be given."""
    return (f"load on {target}: no built-in user fits it; set load.user to one of: {', '.join(BUILTIN_USERS)} "
            "(`http` sends the weighted requests of load.options.http.requests, `GET /` by default), or to your "
            "own Locust user: path/to/locustfile.py[:Class] or module:Class")


def _load_in_file(scenario: Scenario, number: int, message: str) -> str:
    """`message` prefixed with the scenario's file and the line of its load entry `number` (a file without
    `load:` runs the default load: the message then says where to add it)."""
    source = scenario.source
    if source is None:
        return message
    line = source.load_lines[number] if number < len(source.load_lines) else None
    if line is None:
        return (f"{source.path}: {message} (the file has no `load:` section, so the default load runs; add one, "
                "e.g. `load: {user: http}`, or `load: null` for none)")
    return f"{source.path}:{line}: {message}"


def _check_load_options(user: str, options: Mapping[str, Any]) -> None:
    """UsageError naming the field when the load's options do not validate. Checked without
    touching anything (.proto files are compiled when the load starts), as a dry run must."""
    problems = option_problems(user, options)
    if problems:
        raise UsageError("; ".join(f"load.options.{'.'.join(str(p) for p in loc)}: {message}"
                                   for loc, message in problems))


def describe(plan: Plan) -> list[str]:
    """The dry run: targets and how they start, etcd, load, windows, faults by time, oracles."""
    scenario, kind, seed = plan.scenario, plan.platform, plan.seed
    build = "buggy build" if plan.buggy else "fixed build"
    lines = [f"plan for {scenario.name} ({build}) on platform {kind.name}, seed {seed} "
             f"(replay with --seed {seed}); dry run: nothing was built, started or written"]
    lines.append("targets:")
    for spec in plan.targets:
        if spec.deployed is not None:
            lines += kind.shown_deployed(spec)
            continue
        lines.append(f"  {spec.name}: {' '.join(_shown_argv(spec, kind) + _shown_tls_args(spec, plan.etcd))}")
        env = {**GO_OBSERVABILITY_ENV, **spec.env, **(chaosagent_env("<token>") if spec.chaosagent else {})}
        ready = f"GET {spec.readiness.http_path} answers 2xx" if spec.readiness.http_path else "its port accepts"
        if spec.readiness.grpc_health is not None:
            service = spec.readiness.grpc_health
            ready = f"grpc.health.v1 says {repr(service) if service else 'the server'} is SERVING"
        lines.append(f"    env {_inline(env)}; ready when {ready} within {spec.readiness.timeout_s:g}s; "
                     f"restart {spec.restart.value}{_shown_config(spec, kind)}")
    if plan.etcd is not None and plan.etcd.external is not None:
        lines += plan.etcd.external.describe(kind)
    elif plan.etcd is not None:
        etcd = plan.etcd
        where = kind.etcd_placement()
        lines.append(f"etcd: {etcd.members} members {where}, heartbeat {etcd.heartbeat_ms} ms, "
                     f"election {etcd.election_ms} ms")
    else:
        lines.append("etcd: none")
    etcd_shape = None if plan.etcd is None else network.EtcdShape(plan.etcd.members, plan.etcd.external is not None)
    lines += network.describe(plan.links, plan.targets, etcd_shape, kind.link_placement())
    if not plan.loads:
        lines.append("load: none")
    for load in plan.loads:
        options = f", options {_inline(load.options)}" if load.options else ""
        workers = (f", run by {load.worker_pods} worker pods beside this run (it must run in the cluster) against "
                   "the target's Service" if load.worker_pods else "")
        port = f" (port {load.port})" if load.port else ""
        routed = f" through link {network.load_link(load.target, load.port)}" if load.routed else ""
        rate = f" at {load.rate:g} requests/s" if load.rate is not None else ""
        lines.append(f"load: {load.users} {load.user} users{rate} on {load.target}{port}{routed}, spawn rate "
                     f"{load.spawn_rate:g}/s{options}{workers}; stopped after at most {load.limit_s:g}s")
    windows = scenario.windows
    lines.append(f"windows: baseline {windows.baseline_s:g}s, faults, then observe {windows.observe_s:g}s")
    if plan.schedule:
        lines.append(f"faults (offsets from the start of the fault phase, drawn from seed {seed}):")
        shown: set[tuple[str, ...]] = set()
        for number, fault in enumerate(plan.schedule):
            lines.append(f"  +{fault.at_s:8.3f}s  {fault.injector.plan()}; lasts at most "
                         f"{fault.injector.expected_duration_s():g}s")
            extra = plan.fault_details[number] if number < len(plan.fault_details) else ()
            if extra and extra not in shown:  # a repeated fault's variants once
                shown.add(extra)
                lines += [f"             {line}" for line in extra]
    else:
        lines.append("faults: none")
    lines.append("oracles:")
    for name, params in scenario.oracle_entries():
        bounds = ORACLES[name].params(**params).model_dump(mode="json")
        lines.append(f"  {name}: {_inline(bounds) if bounds else '(no parameters)'}")
    return lines


def _shown_argv(spec: TargetSpec, kind: PlatformKind) -> list[str]:
    """The command with placeholders shown as what the platform would put there."""
    values = {name: f"<{name}>" for name in PLACEHOLDERS}
    values.update(kind.shown_placeholders(spec))
    if spec.scenario_dir is not None:
        values.update(scenario_dir=spec.scenario_dir)
    return [fill_placeholders(arg, values, spec.name) for arg in spec.command]


def _shown_config(spec: TargetSpec, kind: PlatformKind) -> str:
    """The config file and how it reaches the target on this platform (a ConfigMap, the node's directory)."""
    if spec.config is None:
        return ""
    trigger = spec.config.trigger.value
    if spec.config.trigger is ReloadTrigger.HTTP:
        request = spec.config.http_reload
        port = f" on port {request.port}" if request.port else ""
        trigger += f": POST {request.path}{port}" + (", the config as its body" if request.body == "config" else "")
    return f"; config {spec.config.file_name}{kind.shown_config_source(spec)} (reload by {trigger})"


def _shown_tls_args(spec: TargetSpec, etcd: EtcdEntry | None) -> list[str]:
    """The etcd TLS flags the run adds to a target's command (the team's etcd over TLS)."""
    tls = etcd.external.tls if etcd is not None and etcd.external is not None else None
    if tls is None or tls.secret is not None or spec.etcd_tls_flags is None or not spec.needs_etcd:
        return []  # a Secret's files exist only on Kubernetes, where such a target is refused (plan._external)
    files = (tls.ca_file, tls.cert_file, tls.key_file)
    return [f"{flag}={path}" for flag, path in zip(spec.etcd_tls_flags, files, strict=True) if path]


def _inline(mapping: dict[str, Any] | Any) -> str:
    items = mapping.items() if isinstance(mapping, dict) else dict(mapping).items()
    return ", ".join(f"{k}={v}" for k, v in items)

