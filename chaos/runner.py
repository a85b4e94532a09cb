"""Run one scenario end to end: stage, baseline, faults, observation, judgement, clean-up.

The phases follow the design: the platform brings the targets (and etcd) up, load starts and
streams onto the timeline, a baseline window measures steady state, the fault schedule runs (each
fault in its own thread at its offset, reverted in `finally`), an observation window follows, and
the oracles judge. Whatever happens, including Ctrl-C, every fault is reverted and everything
started is stopped before this returns or raises.

A run that cannot finish (the suite's own error, SIGINT/SIGTERM, a kill switch) still has a result:
`on_abort` receives it, verdict ERROR or ABORTED with the reason as the `run` finding and the crashes
already in the targets' output judged by `panics`, so the reports of every run get written.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from chaos import state
from chaos.build import Binaries
from chaos.errors import ChaosError, InfrastructureError, Interrupted, UsageError
from chaos.injectors.base import FaultReport, InjectionContext, run_fault
from chaos.load import LoadRun
from chaos.load.run import worker_args
from chaos.network.routing import LinkRouting
from chaos.observe.sampling import RuntimeSampler
from chaos.oracles import baseline as baseline_oracle
from chaos.oracles import bind
from chaos.oracles import panics as panics_oracle
from chaos.oracles import steady_state as steady_state_oracle
from chaos.oracles.context import OracleContext, Phases
from chaos.plan import LoadPlan, Plan, ScheduledFault, build_plan
from chaos.platform.abilities import LoadWorkerPlacement, missing, require
from chaos.platform.base import Platform, RunningTarget
from chaos.platform.etcd import EtcdLeadership
from chaos.platform.factory import open_platform
from chaos.ports import free_port
from chaos.run_result import RunResult
from chaos.scenario import EtcdEntry, Scenario
from chaos.targets import chaosagent_env
from chaos.timeline import Timeline, WindowStats, now_ns
from chaos.verdict import Evidence, Finding, Status, decide

if TYPE_CHECKING:
    from chaos.load import LoadRun, LoadSpec
    from chaos.load.group import LoadGroup
    from chaos.platform.kubernetes.cluster.cluster import ClusterAccess, KubernetesOptions

__all__ = ["run_scenario"]
#: Longest wait for goroutine counts to settle before the idle samples taken before the load starts
#: and after it stops.
IDLE_SETTLE_S = 1.0
#: How long the Locust master waits for worker pods at least: scheduling, image and Python start.
WORKER_PODS_START_S = 90.0


class Progress(Protocol):
    """Where the runner reports what it is doing (the console, or nothing)."""

    def phase(self, name: str, seconds: float | None = None) -> None: ...

    def note(self, text: str) -> None: ...

    def live(self, stats: WindowStats | None) -> None: ...


class QuietProgress:
    def phase(self, name: str, seconds: float | None = None) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def live(self, stats: WindowStats | None) -> None:
        pass


def run_scenario(
    scenario: Scenario | Plan,
    *,
    base_dir: Path | None = None,
    platform: str | None = None,
    buggy: bool | None = None,
    seed: int | None = None,
    run_dir: Path | None = None,
    progress: Progress | None = None,
    binaries: Binaries | None = None,
    timeline: Timeline | None = None,
    kube: KubernetesOptions | None = None,
    cluster: ClusterAccess | None = None,
    on_abort: Callable[[RunResult], None] | None = None,
) -> RunResult:
    """Run a plan and judge it. Raises ChaosError subclasses for infrastructure problems.

    Give a `Plan` (from `build_plan`, as the dry run prints it), or a `Scenario` with `base_dir`,
    `platform` (default local), `buggy` and `seed` to plan it here.
    Pass a `timeline` to read what happened even when the run raises (an interrupt, an error).
    On Kubernetes, pass an open `cluster` to share it between runs, else `kube` says which to open.
    When the run cannot finish, `on_abort` gets its result (ERROR or ABORTED, what was seen until then)
    after everything was stopped, and the error or interrupt is raised as before.
    """
    if isinstance(scenario, Plan):
        if (base_dir, platform, buggy, seed) != (None, None, None, None):
            raise TypeError("run_scenario: a Plan is already planned; base_dir, platform, buggy and seed are "
                            "for a Scenario")
        plan = scenario
    elif base_dir is None:
        raise TypeError("run_scenario: a Scenario needs base_dir (its file's directory)")
    else:
        plan = build_plan(scenario, base_dir, platform=platform or "local", buggy=bool(buggy), seed=seed)
    timeline = timeline if timeline is not None else Timeline()
    seen = _Seen(started_ns=now_ns())
    try:
        return _run(plan, run_dir=run_dir, show=progress or QuietProgress(), binaries=binaries, timeline=timeline,
                    kube=kube, cluster=cluster, seen=seen)
    except (ChaosError, KeyboardInterrupt) as e:
        if on_abort is not None and not isinstance(e, UsageError):  # a usage error is the caller's to fix
            on_abort(_unfinished(plan, e, seen, timeline, run_dir))
        raise


@dataclass
class _Seen:
    """What a run got to, kept outside its stack: an unfinished run is judged from it."""

    started_ns: int
    targets: list[RunningTarget] = field(default_factory=list)
    #: Phase boundaries reached so far (baseline_start, faults_start, faults_end, observe_end).
    marks: list[int] = field(default_factory=list)
    faults: list[FaultReport] = field(default_factory=list)


def _unfinished(plan: Plan, error: BaseException, seen: _Seen, timeline: Timeline, run_dir: Path | None) -> RunResult:
    """The result of a run that ended early: the reason as the `run` finding, and the targets' crashes.

    A crash in the targets' output is judged (a service that died before the suite's error is still
    the service's failure); the other oracles need the whole run and are not claimed.
    """
    ended = now_ns()
    aborted = isinstance(error, (KeyboardInterrupt, Interrupted))
    status = Status.ABORTED if aborted else Status.ERROR
    reason = (str(error) or "interrupted by SIGINT") if aborted else f"{type(error).__name__}: {error}"
    phase = ("setup", "baseline", "faults", "observation", "judgement")[len(seen.marks)]
    marks = [*seen.marks, *[ended] * (4 - len(seen.marks))]
    findings = [Finding("run", status, f"run {status.value} during {phase}: {reason}",
                        (Evidence(ended, reason),), {"phase": phase})]
    findings += [r.finding() for r in seen.faults]
    phases = Phases(*marks[:4])
    if seen.targets:
        findings.append(panics_oracle.check(OracleContext(seen.targets, timeline, phases),
                                            panics_oracle.PanicsParams()))
    return RunResult(scenario=plan.scenario, verdict=decide(findings), timeline=timeline, phases=phases,
                     seed=plan.seed, buggy=plan.buggy, faults=list(seen.faults),
                     target_logs={t.spec.name: "\n".join(line.text for line in t.logs()) for t in seen.targets},
                     targets=list(seen.targets), run_dir=run_dir, started_ns=seen.started_ns)


def _run(plan: Plan, *, run_dir: Path | None, show: Progress, binaries: Binaries | None, timeline: Timeline,
         kube: KubernetesOptions | None, cluster: ClusterAccess | None, seen: _Seen) -> RunResult:
    """Follow `plan`: every decision (targets, etcd, load, schedule, seed) was made when it was built."""
    started_ns = seen.started_ns
    scenario, windows = plan.scenario, plan.scenario.windows
    state.ensure_writable()  # before anything is held: a crash must be recoverable
    binaries = binaries or Binaries(progress=show.note)
    token = uuid.uuid4().hex
    with ExitStack() as stack:
        show.phase("setup")
        runs_on = open_platform(plan.platform, timeline=timeline, binaries=binaries, run_dir=run_dir, stack=stack,
                                kube=kube, cluster=cluster)
        if plan.links:  # before etcd and the targets start: the addresses they are given are the links'
            require(runs_on, LinkRouting).route_links(plan.links)
        etcd = _start_etcd(plan.etcd, runs_on, stack, show) if plan.etcd is not None else None
        stack.callback(runs_on.stop_all)  # targets go first: one stopping after etcd waits on it
        targets = seen.targets
        for spec in plan.targets:
            show.note(f"starting {spec.name}")
            env = chaosagent_env(token) if spec.chaosagent else None
            targets.append(runs_on.start_target(spec, extra_env=env, etcd_endpoints=etcd.endpoints if etcd else "",
                                                etcd_tls=etcd.tls if etcd else None))
        sampler = RuntimeSampler(targets, timeline)
        sampler.sample_idle(IDLE_SETTLE_S)  # goroutines before any load: the leak oracle's anchor
        load = _start_loads(plan.loads, targets, runs_on, timeline, stack, show)
        stack.enter_context(sampler)

        baseline_start = now_ns()
        seen.marks.append(baseline_start)
        show.phase("baseline", windows.baseline_s)
        _wait(windows.baseline_s, load, show)

        faults_start = now_ns()
        seen.marks.append(faults_start)
        show.phase("faults")
        ctx = InjectionContext(platform=runs_on, timeline=timeline, etcd=etcd)
        reports = _run_faults(plan.schedule, ctx, load, show)
        seen.faults[:] = reports
        faults_end = now_ns()
        seen.marks.append(faults_end)

        show.phase("observe", windows.observe_s)
        _wait(windows.observe_s, load, show)
        observe_end = now_ns()
        seen.marks.append(observe_end)

        show.phase("judge")
        sampler.stop()
        totals = load.stop() if load is not None else None
        sampler.sample_idle(IDLE_SETTLE_S)  # in-flight work drains; what is left after this leaked
        phases = Phases(baseline_start, faults_start, faults_end, observe_end)
        oracle_ctx = OracleContext(targets, timeline, phases)
        findings: list[Finding] = [r.finding() for r in reports]
        if load is not None:
            findings.append(baseline_oracle.check(oracle_ctx))
        findings += [bind(name, params)(oracle_ctx) for name, params in scenario.oracle_entries()]
        during = steady_state_oracle.check(oracle_ctx) if load is not None else None
        if during is not None:  # what clients saw while the faults ran: after the oracles, as a crash is its cause
            findings.append(during)
        return RunResult(
            scenario=scenario, verdict=decide(findings), timeline=timeline, phases=phases,
            seed=plan.seed, buggy=plan.buggy, faults=reports, load_totals=totals,
            target_logs={t.spec.name: "\n".join(line.text for line in t.logs()) for t in targets},
            targets=targets,
            run_dir=run_dir, started_ns=started_ns,
        )
    raise AssertionError("unreachable")  # pragma: no cover - ExitStack never swallows


def _start_etcd(options: EtcdEntry, runs_on: Platform, stack: ExitStack, show: Progress) -> EtcdLeadership[Any]:
    """The scenario's etcd: started here, or the team's own (`external`), checked before any fault."""
    if options.external is not None:
        show.note(f"checking the team's etcd at {', '.join(options.external.endpoints)}")
        cluster = runs_on.open_external_etcd(options.external)
        stack.callback(cluster.stop)
        return cluster
    show.note(f"starting etcd ({options.members} members)")
    cluster = runs_on.start_etcd(size=options.members, heartbeat_ms=options.heartbeat_ms,
                                 election_ms=options.election_ms)
    stack.callback(cluster.stop)
    return cluster


def _start_loads(plans: tuple[LoadPlan, ...], targets: list[RunningTarget], runs_on: Platform, timeline: Timeline,
                 stack: ExitStack, show: Progress) -> LoadGroup | None:
    """Every load of the plan, started one after the other, run as one group (None: no load)."""
    from chaos.load.group import LoadGroup  # Locust's parent side, only for a run with load

    if not plans:
        return None
    return LoadGroup([_start_load(plan, targets, runs_on, timeline, stack, show) for plan in plans])


def _start_load(plan: LoadPlan, targets: list[RunningTarget], runs_on: Platform, timeline: Timeline,
                stack: ExitStack, show: Progress) -> LoadRun:
    target = next(t for t in targets if t.spec.name == plan.target)
    host = (require(runs_on, LinkRouting).routed_load_url(plan.target, plan.port) if plan.routed
            else target.endpoint_for(plan.port).url)
    spec = plan.spec(host)
    if plan.worker_pods:
        spec = _with_worker_pods(plan, spec, runs_on, stack, show)
    else:
        show.note(f"starting load: {plan.users} {plan.user} users")
    run = LoadRun(spec, timeline, log_dir=runs_on.run_dir / "load")
    stack.callback(run.kill)
    run.start()
    return run


def _with_worker_pods(plan: LoadPlan, spec: LoadSpec, runs_on: Platform, stack: ExitStack,
                      show: Progress) -> LoadSpec:
    """`spec` as a master this run holds for `plan.worker_pods` worker pods it starts beside itself."""
    why = missing(runs_on, LoadWorkerPlacement)
    if why is not None:
        raise UsageError(f"load.worker_pods: {why}")
    placement: LoadWorkerPlacement = runs_on  # type: ignore[assignment]  # `missing` proved it
    port = free_port("0.0.0.0")
    spec = spec.model_copy(update={
        "host": placement.load_url(plan.target), "remote_workers": plan.worker_pods, "master_bind_host": "0.0.0.0",
        "master_port": port, "start_timeout_s": max(spec.start_timeout_s, WORKER_PODS_START_S)})
    show.note(f"starting load: {plan.users} {plan.user} users on {plan.worker_pods} worker pods -> {spec.host}")
    workers = placement.start_load_workers(plan.worker_pods, lambda master: worker_args(spec, master, port))
    stack.callback(workers.stop)
    return spec


def _run_faults(schedule: tuple[ScheduledFault, ...], ctx: InjectionContext,
                load: LoadGroup | None, show: Progress) -> list[FaultReport]:
    """Each fault in its own thread, started at its offset; errors re-raised here, in order."""
    reports: dict[int, FaultReport] = {}
    errors: list[BaseException] = []
    start = time.monotonic()
    # Waited on instead of Thread.join: a Ctrl-C landing in a join marks the thread as stopped while
    # it still runs (python/cpython#90882), and teardown would then race the fault's revert.
    finished = [threading.Event() for _ in schedule]

    def one(fault_id: int, fault: ScheduledFault, done: threading.Event) -> None:
        try:
            if ctx.stop.wait(max(0.0, start + fault.at_s - time.monotonic())):
                return
            own = dataclasses.replace(ctx, rng=random.Random(fault.seed))  # its own stream: exact replay
            reports[fault_id] = run_fault(fault.instance(), own, fault_id)
        except BaseException as e:
            errors.append(e)
        finally:
            done.set()

    for fid, (fault, done) in enumerate(zip(schedule, finished, strict=True), start=1):
        threading.Thread(target=one, args=(fid, fault, done), name=f"fault-{fid}", daemon=True).start()
    try:
        for done in finished:
            while not done.wait(0.25):
                show.live(load.live() if load else None)
    except BaseException:
        ctx.stop.set()  # faults stop early and revert in their own finally
        for done in finished:
            done.wait(30)
        raise
    if errors:
        first = errors[0]
        if isinstance(first, ChaosError):
            raise first
        raise InfrastructureError(f"a fault thread failed: {first!r}") from first
    return [reports[k] for k in sorted(reports)]


def _wait(seconds: float, load: LoadGroup | None, show: Progress,
          clock: Callable[[], float] = time.monotonic) -> None:
    """Sleep through a window, feeding live load figures to the console (Ctrl-C still works)."""
    deadline = clock() + seconds
    while (remaining := deadline - clock()) > 0:
        time.sleep(min(0.25, remaining))
        show.live(load.live() if load else None)
