"""The embedded default platform: each target is a supervised process on a free loopback port.

Every target gets a work dir under the run dir (its config file and log live there), its own
process group, and a restart policy applied like a kubelet would. Starts, exits and restarts go on
the Timeline as they happen. `close()` stops everything and removes the run dir unless asked to
keep it. Links a run's network faults need (chaos.network) are routed through the run's chaosproxy,
started at the first one: etcd members' peer URLs, targets' etcd endpoints and upstreams, the load.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable, Mapping
from pathlib import Path

from chaos.build import Binaries
from chaos.configs.placeholders import spaced
from chaos.errors import InjectionFailed, PlatformError, TargetError
from chaos.network.links import LinkPlan
from chaos.network.proxy import ChaosProxy
from chaos.network.routing import RunLinks
from chaos.observe.readiness import exited_before_ready, passes, wait_until
from chaos.platform.base import Endpoint, Platform, StartedTarget, etcd_tls_args
from chaos.platform.etcd import ClientTls
from chaos.platform.local.cgroups import CgroupLimit
from chaos.platform.local.etcd import EtcdCluster
from chaos.platform.local.planning import LOCAL
from chaos.platform.local.process import SupervisedProcess
from chaos.platform.observations import ExitRecord, LogLine
from chaos.platform.procfs import vm_rss_mb
from chaos.ports import LOOPBACK, free_ports, port_in_use
from chaos.targets import GO_OBSERVABILITY_ENV, RestartPolicy, TargetSpec, fill_config_text, named_port_values
from chaos.targets import fill_placeholders as _fill
from chaos.timeline import EventKind, Timeline, now_ns


class LocalTarget(StartedTarget):
    """A target running as a local supervised process (implements `RunningTarget`)."""

    def __init__(self, spec: TargetSpec, process: SupervisedProcess, endpoint: Endpoint,
                 workdir: Path, config_path: Path | None, extra_env: Mapping[str, str],
                 ports: Mapping[str, Endpoint], placeholders: Mapping[str, str]) -> None:
        super().__init__(spec, endpoint, config_path, extra_env, ports, placeholders)
        self.process = process
        self.workdir = workdir

    @property
    def restarts(self) -> int:
        return self.process.restarts

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process.running else None

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    def logs(self, since_ns: int | None = None) -> list[LogLine]:
        return self.process.lines(since_ns)

    def exits(self) -> list[ExitRecord]:
        return self.process.exits

    def send_signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig, expect_exit=sig in (signal.SIGKILL, signal.SIGTERM))


class LocalHog:
    """The hog binary as a supervised local process (implements `Hog`)."""

    def __init__(self, process: SupervisedProcess) -> None:
        self.process = process
        self.where = f"pid {process.pid}"

    def rss_mb(self) -> int:
        pid = self.process.pid
        if pid is None or not self.process.running:
            return 0
        try:
            return vm_rss_mb(Path(f"/proc/{pid}/status").read_text())
        except OSError:
            return 0

    def stop(self) -> None:
        self.process.stop(timeout_s=1)


class LocalPlatform(Platform[LocalTarget]):
    """Runs targets as local processes on loopback; the suite's default platform.

    Beyond the core contract it has the `ResourceLimits` (cgroups), `HogPlacement` and `LinkRouting`
    (chaosproxy) abilities.
    """

    kind = LOCAL

    def __init__(self, *, timeline: Timeline, binaries: Binaries | None = None,
                 run_dir: Path | None = None, keep: bool = False) -> None:
        super().__init__(timeline=timeline, run_dir=run_dir, keep=keep)
        self.binaries = binaries
        self._etcd_clusters = 0
        self._links: RunLinks | None = None
        #: Client URL -> member name of the etcd this run started (its targets' etcd-client links name them).
        self._etcd_members: dict[str, str] = {}

    # -- Platform ----------------------------------------------------------------------------
    def start_target(self, spec: TargetSpec, *, extra_env: Mapping[str, str] | None = None,
                     etcd_endpoints: str = "", etcd_tls: ClientTls | None = None) -> LocalTarget:
        """Write its config, start it, wait for readiness; TargetError with its log tail if not."""
        self._claim(spec.name)
        workdir = self.run_dir / spec.name
        workdir.mkdir(parents=True, exist_ok=True)
        config_path = workdir / spec.config.file_name if spec.config is not None else None
        links = self._links
        if links is not None and links.plan.etcd_client(spec.name):
            etcd_endpoints = links.etcd_endpoints(spec.name, etcd_endpoints, self._etcd_members)
        port, *extra_ports = free_ports(1 + len(spec.ports))
        named = dict(zip(spec.ports, extra_ports, strict=True))
        values = {
            "binary": str(self._binary(spec)) if spec.binary or spec.go_install or spec.build else "",
            "listen": f"{LOOPBACK}:{port}",
            "host": LOOPBACK,
            "port": str(port),
            "config": str(config_path or ""),
            "etcd_endpoints": etcd_endpoints,
            "etcd_endpoints_spaced": spaced(etcd_endpoints),
            "workdir": str(workdir),
        }
        if spec.scenario_dir is not None:
            values["scenario_dir"] = spec.scenario_dir
        for name, number in named.items():
            values.update(named_port_values(name, LOOPBACK, number))
        routed = self._upstreams_of(spec.name)
        if spec.config is not None and config_path is not None:
            config_path.write_text(routed(fill_config_text(spec, values)), encoding="utf-8")
        argv = [routed(_fill(arg, values, spec.name)) for arg in spec.command] + etcd_tls_args(spec, etcd_tls)
        _check_executable(argv[0], spec.name)
        env = {**os.environ, **GO_OBSERVABILITY_ENV}
        env.update({k: routed(_fill(v, values, spec.name)) for k, v in spec.env.items()})
        env.update(extra_env or {})
        process = SupervisedProcess(
            spec.name, argv, log_path=workdir / "output.log", env=env, cwd=workdir,
            restart=spec.restart, on_exit=self._on_exit, on_restart=self._on_restart,
        )
        target = LocalTarget(spec, process, Endpoint(LOOPBACK, port), workdir, config_path, extra_env or {},
                             {name: Endpoint(LOOPBACK, number) for name, number in named.items()}, values)
        self._targets[spec.name] = target
        process.start()
        self.timeline.record(EventKind.TARGET_START, spec.name, pid=process.pid, port=port)
        self._wait_ready(target)
        return target

    def stop_target(self, name: str) -> None:
        target = self._targets.pop(name, None)
        if target is not None:
            target.process.stop()
            self.timeline.record(EventKind.TARGET_STOP, name)

    def restart_target(self, name: str, *,
                       env: Mapping[str, str | None] | None = None) -> dict[str, str | None]:
        """Restart its process with the environment changed (how GOGC/GOMEMLIMIT reach a service without an agent)."""
        target = self.target(name)
        previous = {key: target.process.env.get(key) for key in (env or {})}
        for key, value in (env or {}).items():
            if value is None:
                target.process.env.pop(key, None)
            else:
                target.process.env[key] = value
        target.process.restart()
        self.timeline.record(EventKind.TARGET_START, name, pid=target.process.pid, requested=True,
                             env=dict(env or {}))
        self._wait_ready(target)
        return previous

    def start_hog(self, near: str, *, mb: int, cpu: bool, duration_s: float) -> LocalHog:
        """The hog as a local process beside target `near` (same machine, its own process group)."""
        self.target(near)
        binary = self._binary_named("hog")
        process = SupervisedProcess(f"hog-{near}", [str(binary), f"--mb={mb}", f"--cpu={str(cpu).lower()}",
                                                     f"--duration={duration_s:.3f}s"],
                                    log_path=self.run_dir / f"hog-{near}.log", restart=RestartPolicy.NEVER)
        process.start()
        return LocalHog(process)

    def start_etcd(self, *, size: int = 3, heartbeat_ms: int = 50, election_ms: int = 500) -> EtcdCluster:
        """`size` etcd processes on loopback (data under the run dir), started and with a leader."""
        self._etcd_clusters += 1  # each cluster of the run gets its own data: etcd, etcd2, ...
        base_dir = self.run_dir / ("etcd" if self._etcd_clusters == 1 else f"etcd{self._etcd_clusters}")
        links = self._links if self._etcd_clusters == 1 else None  # the links are the run's etcd's
        cluster = EtcdCluster(etcd_binary=self._binary_named("etcd"), base_dir=base_dir,
                              timeline=self.timeline, size=size, heartbeat_ms=heartbeat_ms, election_ms=election_ms,
                              peer_address=links.peer_address if links is not None and links.plan.etcd_peer
                              else None).started()
        if self._etcd_clusters == 1:
            self._etcd_members = {m.client_url: m.name for m in cluster.members}
        return cluster

    # -- LinkRouting -------------------------------------------------------------------------
    def route_links(self, plan: LinkPlan) -> None:
        """Route `plan`'s links through this run's chaosproxy (started when the first link is made)."""
        if self._links is not None:
            raise PlatformError("this platform's links are routed already: route_links is called once per run")
        self._links = RunLinks(plan, start_proxy=self._start_proxy, timeline=self.timeline)

    def routed_load_url(self, target: str, port: str | None) -> str:
        url = self.target(target).endpoint_for(port).url
        if self._links is None or not self._links.plan.load(target, port):
            raise PlatformError(f"no load link to {target} was planned; the plan routes the links its faults name")
        return self._links.load_url(target, port, url)

    @property
    def network_links(self) -> RunLinks | None:
        return self._links

    def _start_proxy(self) -> ChaosProxy:
        return ChaosProxy(self._binary_named("chaosproxy"), log_path=self.run_dir / "chaosproxy.log").start()

    def _upstreams_of(self, target: str) -> Callable[[str], str]:
        """What rewrites target `target`'s upstream addresses to their links (nothing without links)."""
        links = self._links
        if links is None or not links.plan.upstreams(target):
            return lambda text: text
        return lambda text: links.rewrite_upstreams(target, text)

    def _release(self) -> None:
        links, self._links = self._links, None
        if links is not None:
            links.close()

    def resource_limit(self, name: str, *, memory_bytes: int | None = None,
                       cpu_millicores: int | None = None) -> CgroupLimit:
        """A memory/CPU squeeze of target `name`'s process with cgroups of its own (needs root)."""
        pid = self.target(name).pid
        if pid is None:
            raise InjectionFailed(f"{name} is not running")
        return CgroupLimit(pid, memory_bytes=memory_bytes, cpu_millicores=cpu_millicores)

    # -- internals ---------------------------------------------------------------------------
    def _binary(self, spec: TargetSpec) -> Path:
        """What {binary} is: the team's source built (`build`), a published service (`go_install`), or a bundled
        binary; each with the race detector when the spec asks."""
        if spec.build is not None:
            return self._built(f"target {spec.name}", f"a build of {spec.build}").source(Path(spec.build),
                                                                                     race=spec.race)
        if spec.go_install is not None:
            return self._built(f"target {spec.name}", spec.go_install).published(spec.go_install, race=spec.race)
        return self._binary_named(spec.binary or spec.name, race=spec.race, who=f"target {spec.name}")

    def _binary_named(self, name: str, *, race: bool = False, who: str = "") -> Path:
        binaries = self._built(who or name, f"the bundled binary {name!r}")
        return binaries.get(name, race=race or binaries.race)

    def _built(self, who: str, what: str) -> Binaries:
        if self.binaries is None:
            raise PlatformError(f"{who} needs {what} but the platform was created without built binaries; pass "
                                "binaries=chaos.build.Binaries()")
        return self.binaries

    def _on_exit(self, process: SupervisedProcess, record: ExitRecord) -> None:
        self.timeline.record(
            EventKind.TARGET_EXIT, process.name, t_ns=record.t_ns, pid=record.pid,
            returncode=record.returncode, signal=record.signal, requested=record.requested,
            incarnation=record.incarnation,
        )

    def _on_restart(self, process: SupervisedProcess) -> None:
        self.timeline.record(EventKind.TARGET_START, process.name, pid=process.pid, requested=False,
                             incarnation=process.incarnation, restarts=process.restarts)

    def _wait_ready(self, target: LocalTarget) -> None:
        spec = target.spec

        def ready() -> bool:
            answer = passes(spec.readiness, target.endpoint)
            return answer if answer is not None else port_in_use(target.endpoint.port)

        first, started_ns = target.process.incarnation, now_ns()

        def died() -> str | None:  # a restart by policy is an exit too: waiting on would hide it
            if target.process.running and target.process.incarnation == first:
                return None
            return "process exited"

        if not wait_until(ready, timeout_s=spec.readiness.timeout_s, abort=died):
            # the supervisor records the exit (after the last output line) a moment after it is seen
            exited = target.process.wait_for_exit(first, timeout_s=2) if died() else None
            self.stop_target(spec.name)
            ran_s = max(0.0, (exited.t_ns - started_ns) / 1e9) if exited is not None else 0.0
            raise TargetError(_not_ready(target, exited, ran_s, self.keep))
        self.timeline.record(EventKind.TARGET_READY, spec.name, pid=target.process.pid)


def _not_ready(target: LocalTarget, exit_record: ExitRecord | None, ran_s: float, kept: bool) -> str:
    """One line: what happened, the telling line of its output, and what to do about it."""
    spec = target.spec
    lines = [line.text.strip() for line in target.logs() if line.text.strip()]
    telling = next((t for t in lines if t.startswith(("panic: ", "fatal error: "))), lines[-1] if lines else "")
    said = f"; its last words: {telling[:300]!r}" if telling else "; it printed nothing"
    if any("address already in use" in t.lower() for t in lines):
        fix = ("its port is taken by another process: do not pin a port, pass {listen} or {port} in its "
               "command so gochaos picks a free one")
    elif exit_record is not None:
        fix = "fix its command, flags or config (run the command by hand to see why it stops)"
    else:
        grpc_service = spec.readiness.grpc_health
        check = (f"the grpc.health.v1 check of {repr(grpc_service) if grpc_service else 'the server'} with SERVING"
                 if grpc_service is not None else
                 target.endpoint.url + spec.readiness.http_path if spec.readiness.http_path else "a TCP connect")
        fix = (f"it never answered {check} in time: make it listen on {{listen}} "
               "(or {port}), check its ready_path or ready_grpc, or raise the readiness timeout")
    log = f"; full output in {target.log_path}" if kept else ""
    if exit_record is not None:  # it died before it was ready: no timeout ran out, so none is named
        why = exited_before_ready(exit_record, ran_s, target.logs())
        return f"target {spec.name} did not become ready: {why}; {fix}{log}"
    return (f"target {spec.name} did not become ready within {spec.readiness.timeout_s:g}s (still running){said}; "
            f"{fix}{log}")


def _check_executable(program: str, target: str) -> None:
    found = shutil.which(program)
    if found is None:
        raise TargetError(
            f"target {target}: program {program!r} does not exist or is not executable; "
            "build it or fix the target's command"
        )
