"""pytest plugin: options, markers and fixtures that bring Go targets and etcd up for a test.

Registered through the `pytest11` entry point, so installing gochaos is enough. Heavy imports
(locust, kubernetes) happen inside fixtures, never when pytest loads the plugin. Session-scoped
fixtures build the binaries once; function-scoped ones give each test its own timeline, platform
and etcd cluster, all torn down even when the test fails.

Fixtures:
    chaos_binaries      session: built configd, kvd, allocd, etcd, etcdctl (cached build)
    chaos_timeline      the test's Timeline (one clock for events and requests)
    chaos_platform      the test's Platform (local processes by default; --gochaos-platform kubernetes)
    kind_cluster        session: a kind cluster for --gochaos-platform kubernetes (skips with the reason
                        when none can be created); override it in a conftest to supply your own
    chaos_cluster       session: the connected cluster (from --gochaos-kubeconfig/-context, or kind_cluster)
    make_target         factory: start a bundled target by name with flags, or any TargetSpec
    make_etcd_cluster   factory: start an N-member etcd cluster on the test's platform
    etcd_cluster        a started 3-member etcd cluster (members from --gochaos-etcd-members)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from chaos.build import Binaries
    from chaos.platform.base import Platform, RunningTarget
    from chaos.platform.etcd import EtcdLeadership
    from chaos.platform.kubernetes.cluster import ClusterAccess
    from chaos.targets import TargetSpec
    from chaos.timeline import Timeline


def pytest_addoption(parser: pytest.Parser) -> None:
    from chaos.platform.factory import PLATFORMS

    group = parser.getgroup("gochaos", "gochaos: chaos testing of Go services")
    group.addoption("--gochaos-platform", default="local", choices=PLATFORMS,
                    help="where targets run (default: local processes on loopback)")
    group.addoption("--gochaos-kubeconfig", default=None, metavar="PATH",
                    help="kubernetes: use this kubeconfig instead of creating a kind cluster")
    group.addoption("--gochaos-context", default=None, metavar="NAME", help="kubernetes: context of the kubeconfig")
    group.addoption("--gochaos-allow-context", action="append", default=[], metavar="NAME",
                    help="kubernetes: allow faults in this context although it is not a local kind cluster")
    group.addoption("--gochaos-kind-cluster", default=None, metavar="NAME",
                    help="kubernetes: reuse this kind cluster instead of creating one")
    group.addoption("--gochaos-report-dir", default=None, metavar="DIR",
                    help="write run artefacts (target logs, etcd data) under DIR and keep them")
    group.addoption("--gochaos-etcd-members", type=int, default=3, metavar="N",
                    help="members of the etcd_cluster fixture (default 3)")


def pytest_configure(config: pytest.Config) -> None:
    from chaos.cleanup import sigint_interrupts

    sigint_interrupts()  # a SIGINT to the test session must unwind chaos runs, even under `make &`
    config.addinivalue_line("markers", "gochaos: a chaos test using gochaos fixtures")
    config.addinivalue_line("markers", "kubernetes: needs a Kubernetes (kind) cluster; skipped with the reason "
                                       "when none can be created")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Undo what dead gochaos runs left behind (rules, cgroups, stopped processes), saying what."""
    import logging

    from chaos import state

    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller did it
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    log = logging.getLogger("gochaos")
    try:
        for item in state.reclaim():
            line = f"gochaos: cleaned up after a dead run: {item.describe()}"
            if reporter is not None:
                reporter.write_line(line)
            else:
                log.warning(line)
    except Exception as e:  # clean-up must never stop a test session
        log.warning("gochaos: clean-up after dead runs failed: %r", e)


def _artefact_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                  kind: str) -> tuple[Path, bool]:
    """Where a test's run artefacts go, and whether to keep them (a report dir was given)."""
    report_dir = request.config.getoption("--gochaos-report-dir")
    safe = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    if report_dir:
        path = Path(report_dir) / safe / kind
        path.mkdir(parents=True, exist_ok=True)
        return path, True
    return tmp_path_factory.mktemp(f"{kind}-{safe[:40]}"), False


@pytest.fixture(scope="session")
def chaos_binaries() -> Binaries:
    """The bundled Go targets and etcd, each built on first use (reused from the build cache)."""
    from chaos.build import Binaries

    return Binaries()


@pytest.fixture
def chaos_timeline() -> Timeline:
    from chaos.timeline import Timeline

    return Timeline()


@pytest.fixture(scope="session")
def kind_cluster(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A kind cluster for the session (created, deleted at the end); skips when none can be created."""
    from chaos.errors import PlatformError
    from chaos.platform.kubernetes.kind import KindCluster

    cluster = KindCluster(name=request.config.getoption("--gochaos-kind-cluster"))
    try:
        cluster.open()
    except PlatformError as e:
        cluster.close()
        pytest.skip(f"no kind cluster: {e}")
    try:
        yield cluster
    finally:
        cluster.close()


def _kube_options(config: pytest.Config) -> Any:
    """KubernetesOptions from the --gochaos-* options (a new kind cluster when none names one)."""
    from chaos.platform.kubernetes.cluster import KubernetesOptions

    kubeconfig = config.getoption("--gochaos-kubeconfig")
    return KubernetesOptions(kubeconfig=Path(kubeconfig) if kubeconfig else None,
                             context=config.getoption("--gochaos-context"),
                             allow_contexts=tuple(config.getoption("--gochaos-allow-context")),
                             kind_cluster=config.getoption("--gochaos-kind-cluster"))


@pytest.fixture(scope="session")
def chaos_cluster(request: pytest.FixtureRequest) -> Iterator[ClusterAccess]:
    """The cluster Kubernetes tests run on: the named kubeconfig/context, else `kind_cluster` (reused)."""
    import dataclasses

    from chaos.platform.kubernetes.cluster import connect

    options = _kube_options(request.config)
    if options.kubeconfig is None and options.context is None:
        options = dataclasses.replace(options, kind_cluster=request.getfixturevalue("kind_cluster").name)
    access = connect(options)
    try:
        yield access
    finally:
        access.close()


@pytest.fixture
def chaos_platform(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    chaos_binaries: Binaries,
    chaos_timeline: Timeline,
) -> Iterator[Platform]:
    """The test's platform; every target started on it is stopped when the test ends."""
    from contextlib import ExitStack

    from chaos.platform.factory import open_platform

    run_dir, keep = _artefact_dir(request, tmp_path_factory, "targets")
    with ExitStack() as stack:
        yield open_platform(request.config.getoption("--gochaos-platform"), timeline=chaos_timeline,
                            binaries=chaos_binaries, run_dir=run_dir, stack=stack, keep=keep,
                            cluster=lambda: request.getfixturevalue("chaos_cluster"))


@pytest.fixture
def make_etcd_cluster(chaos_platform: Platform) -> Iterator[Callable[..., EtcdLeadership[Any]]]:
    """Factory: `make_etcd_cluster(size=3, heartbeat_ms=50, election_ms=500)` -> started cluster.

    On the test's platform: loopback processes locally, the etcd StatefulSet on Kubernetes.
    """
    clusters: list[EtcdLeadership[Any]] = []

    def make(size: int = 3, **options: Any) -> EtcdLeadership[Any]:
        cluster = chaos_platform.start_etcd(size=size, **options)
        clusters.append(cluster)
        return cluster

    try:
        yield make
    finally:
        for cluster in reversed(clusters):
            cluster.stop()


@pytest.fixture
def etcd_cluster(request: pytest.FixtureRequest,
                 make_etcd_cluster: Callable[..., EtcdLeadership[Any]]) -> EtcdLeadership[Any]:
    """A started etcd cluster (3 members unless --gochaos-etcd-members says otherwise)."""
    return make_etcd_cluster(size=request.config.getoption("--gochaos-etcd-members"))


@pytest.fixture
def make_target(
    chaos_platform: Platform,
    make_etcd_cluster: Callable[..., EtcdLeadership[Any]],
) -> Callable[..., RunningTarget]:
    """Factory: `make_target("configd", reload_strategy="unsafe")` or `make_target(spec)`.

    A target that needs etcd gets a fresh 3-member cluster unless `etcd=` passes one.
    """
    from chaos.targets import TargetSpec, bundled

    def make(what: str | TargetSpec, *, etcd: EtcdLeadership[Any] | None = None,
             extra_env: dict[str, str] | None = None, **flags: Any) -> RunningTarget:
        spec = what if isinstance(what, TargetSpec) else bundled(what, **flags)
        endpoints = ""
        if spec.needs_etcd:
            endpoints = (etcd or make_etcd_cluster()).endpoints
        return chaos_platform.start_target(spec, extra_env=extra_env, etcd_endpoints=endpoints)

    return make


# -- *.chaos.yaml files as test items --------------------------------------------------------------
def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """`pytest scenarios/` gates a release: every `*.chaos.yaml` (scenario or suite) is collected."""
    if file_path.name.endswith(".chaos.yaml"):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """A scenario file: one item, or one per member when the file is a suite."""

    def collect(self) -> Iterator[pytest.Item]:
        from chaos.errors import ScenarioError
        from chaos.scenario import load_plan

        try:
            _, plan = load_plan(self.path)
        except ScenarioError as e:
            raise self.CollectError(str(e)) from e
        for scenario, base_dir in plan:
            yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario, base_dir=base_dir)


class ScenarioItem(pytest.Item):
    """Runs one scenario on the chosen platform; fails with the findings when the verdict is not pass."""

    def __init__(self, *, scenario: Any, base_dir: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.base_dir = base_dir

    def runtest(self) -> None:
        from chaos.report import json_report
        from chaos.runner import run_scenario
        from chaos.verdict import Status

        report_dir = self.config.getoption("--gochaos-report-dir")
        run_dir = Path(report_dir) / "artefacts" / self.scenario.name if report_dir else None
        result = run_scenario(self.scenario, base_dir=self.base_dir,
                              platform=self.config.getoption("--gochaos-platform"), run_dir=run_dir,
                              kube=_kube_options(self.config))
        if report_dir:
            json_report.write(result, Path(report_dir) / self.scenario.name)
        if result.verdict.status is not Status.PASS:
            raise ScenarioVerdict(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        from chaos.errors import ChaosError

        if isinstance(excinfo.value, ScenarioVerdict):
            return excinfo.value.describe()
        if isinstance(excinfo.value, ChaosError):  # infrastructure: one clear line, no framework traceback
            return f"{self.scenario.name}: {type(excinfo.value).__name__}: {excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"scenario {self.scenario.name}"


class ScenarioVerdict(Exception):
    """A scenario item whose verdict is fail or inconclusive (inconclusive never passes a gate)."""

    def __init__(self, result: Any) -> None:
        super().__init__(result.verdict.status.value)
        self.result = result

    def describe(self) -> str:
        verdict = self.result.verdict
        lines = [f"{self.result.scenario.name}: {verdict.status.value.upper()} (seed {self.result.seed})"]
        for finding in verdict.findings:
            lines.append(f"  {finding.status.value:<12} {finding.check}: {finding.summary}")
            if finding.status.value != "pass":
                lines += [f"      {text}" for e in finding.evidence[:3] for text in e.text.splitlines()[:8]]
        return "\n".join(lines)
