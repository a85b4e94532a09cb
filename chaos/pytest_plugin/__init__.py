"""pytest plugin: options, ini keys, markers and fixtures that bring Go targets and etcd up for a test.

Registered through the `pytest11` entry point, so installing gochaos is enough; a session that uses
none of its fixtures and no `*.chaos.yaml` item is left untouched (chaos.pytest_plugin.session).
Which files are collected as scenarios, and how a look-alike (a Chaos Mesh manifest) is skipped:
chaos.pytest_plugin.collection. Every item it collects, and every test using its fixtures, carries
the `gochaos` marker. Heavy imports (locust, kubernetes) happen inside fixtures, never when pytest
loads the plugin.
Session-scoped fixtures build the binaries once; function-scoped ones give each test its own
timeline, platform and etcd cluster, all torn down even when the test fails. Every fixture name
starts with `gochaos_`, so none clashes with another plugin's (pytest-kind's `kind_cluster`).

Fixtures:
    gochaos_session            session: the first use gets the session ready for chaos runs
    gochaos_binaries           session: built configd, kvd, allocd, etcd, etcdctl (cached build)
    gochaos_timeline           the test's Timeline (one clock for events and requests)
    gochaos_platform           the test's Platform (local processes by default; --gochaos-platform kubernetes)
    gochaos_kind_cluster       session: a kind cluster for --gochaos-platform kubernetes (skips with the
                               reason when none can be created); override it in a conftest to supply your own
    gochaos_cluster            session: the connected cluster (--gochaos-kubeconfig/-context, or the kind cluster)
    gochaos_make_target        factory: start a bundled target by name with flags, or any TargetSpec
    gochaos_make_etcd_cluster  factory: start an N-member etcd cluster on the test's platform
    gochaos_etcd_cluster       a started etcd cluster (members from --gochaos-etcd-members, default 3)
    gochaos_target, gochaos_load, gochaos_fault, gochaos_oracle, gochaos_run
                               a scenario written in Python (chaos.pytest_plugin.scenario_fixtures)
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from chaos.pytest_plugin import collection, session
from chaos.pytest_plugin.scenario_fixtures import (  # noqa: F401  (fixtures: pytest finds them in this module)
    gochaos_fault,
    gochaos_load,
    gochaos_oracle,
    gochaos_run,
    gochaos_scenario,
    gochaos_target,
)

if TYPE_CHECKING:
    from chaos.build import Binaries
    from chaos.platform.base import Platform, RunningTarget
    from chaos.platform.etcd import EtcdLeadership
    from chaos.platform.kubernetes.cluster.cluster import ClusterAccess
    from chaos.targets import TargetSpec
    from chaos.timeline import Timeline


def pytest_addoption(parser: pytest.Parser) -> None:
    session.add_options(parser)
    collection.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    collection.configure(config)
    config.addinivalue_line("markers", "gochaos: a scenario file's item or a test using gochaos fixtures (set by "
                                       "gochaos; -m 'not gochaos' deselects them)")
    config.addinivalue_line("markers", "kubernetes: needs a Kubernetes (kind) cluster; skipped with the reason "
                                       "when none can be created")


@pytest.fixture(scope="session")
def gochaos_session(request: pytest.FixtureRequest) -> None:
    """Every gochaos fixture depends on this: the session turns chaos-ready on first use (`activate`)."""
    session.activate(request.config)


@pytest.fixture(scope="session")
def gochaos_binaries(gochaos_session: None) -> Binaries:
    """The bundled Go targets and etcd, each built on first use (reused from the build cache)."""
    # deferred: the plugin imports the suite only once a gochaos item or fixture is used
    from chaos.build import Binaries

    return Binaries()


@pytest.fixture
def gochaos_timeline(gochaos_session: None) -> Timeline:
    # deferred: the plugin imports the suite only once a gochaos item or fixture is used
    from chaos.timeline import Timeline

    return Timeline()


@pytest.fixture(scope="session")
def gochaos_kind_cluster(request: pytest.FixtureRequest, gochaos_session: None) -> Iterator[Any]:
    """A kind cluster for the session (created, deleted at the end); skips when none can be created."""
    # deferred: the plugin imports the suite only once a gochaos item or fixture is used
    from chaos.errors import PlatformError
    from chaos.platform.kubernetes.cluster.kind import KindCluster

    cluster = KindCluster(name=session.setting(request.config, "kind_cluster"))
    try:
        cluster.open()
    except PlatformError as e:
        cluster.close()
        pytest.skip(f"no kind cluster: {e}")
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="session")
def gochaos_cluster(request: pytest.FixtureRequest, gochaos_session: None) -> Iterator[ClusterAccess]:
    """The cluster Kubernetes tests run on: the named kubeconfig/context, else `gochaos_kind_cluster` (reused)."""
    # deferred: the plugin imports the suite only once a gochaos item or fixture is used
    import dataclasses

    # deferred: the plugin imports the suite only once a gochaos item or fixture is used
    from chaos.platform.kubernetes.cluster.cluster import connect

    options = session.kube_options(request.config)
    if options.kubeconfig is None and options.context is None:
        options = dataclasses.replace(options, kind_cluster=request.getfixturevalue("gochaos_kind_cluster").name)
    access = connect(options)
    try:
        yield access
    finally:
        access.close()


@pytest.fixture
def gochaos_platform(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    gochaos_binaries: Binaries,
    gochaos_timeline: Timeline,
) -> Iterator[Platform]:
    """The test's platform; every target started on it is stopped when the test ends."""
    # deferred: the plugin imports the suite only once a gochaos item or fixture is used
    from contextlib import ExitStack

    # deferred: the plugin imports the suite only once a gochaos item or fixture is used
    from chaos.platform.factory import open_platform, platform_kind

    run_dir, keep = session.artefact_dir(request, tmp_path_factory, "targets")
    with ExitStack() as stack:
        yield open_platform(platform_kind(session.platform_name(request.config)), timeline=gochaos_timeline,
                            binaries=gochaos_binaries, run_dir=run_dir, stack=stack, keep=keep,
                            cluster=lambda: request.getfixturevalue("gochaos_cluster"))


@pytest.fixture
def gochaos_make_etcd_cluster(gochaos_platform: Platform) -> Iterator[Callable[..., EtcdLeadership[Any]]]:
    """Factory: `gochaos_make_etcd_cluster(size=3, heartbeat_ms=50, election_ms=500)` -> started cluster.

    On the test's platform: loopback processes locally, the etcd StatefulSet on Kubernetes.
    """
    clusters: list[EtcdLeadership[Any]] = []

    def make(size: int = 3, **options: Any) -> EtcdLeadership[Any]:
        cluster = gochaos_platform.start_etcd(size=size, **options)
        clusters.append(cluster)
        return cluster

    try:
        yield make
    finally:
        for cluster in reversed(clusters):
            cluster.stop()


@pytest.fixture
def gochaos_etcd_cluster(request: pytest.FixtureRequest,
                         gochaos_make_etcd_cluster: Callable[..., EtcdLeadership[Any]]) -> EtcdLeadership[Any]:
    """A started etcd cluster (3 members unless --gochaos-etcd-members says otherwise)."""
    return gochaos_make_etcd_cluster(size=session.int_setting(request.config, "etcd_members") or 3)


@pytest.fixture
def gochaos_make_target(
    gochaos_platform: Platform,
    gochaos_make_etcd_cluster: Callable[..., EtcdLeadership[Any]],
) -> Callable[..., RunningTarget]:
    """Factory: `gochaos_make_target("configd", reload_strategy="unsafe")` or `gochaos_make_target(spec)`.

    A target that needs etcd gets a fresh 3-member cluster unless `etcd=` passes one.
    """
    # deferred: the plugin imports the suite only once a gochaos item or fixture is used
    from chaos.targets import TargetSpec, bundled

    def make(what: str | TargetSpec, *, etcd: EtcdLeadership[Any] | None = None,
             extra_env: dict[str, str] | None = None, **flags: Any) -> RunningTarget:
        spec = what if isinstance(what, TargetSpec) else bundled(what, **flags)
        if not spec.needs_etcd:
            return gochaos_platform.start_target(spec, extra_env=extra_env)
        cluster = etcd or gochaos_make_etcd_cluster()
        return gochaos_platform.start_target(spec, extra_env=extra_env, etcd_endpoints=cluster.endpoints,
                                             etcd_tls=cluster.tls)

    return make


def pytest_itemcollected(item: pytest.Item) -> None:
    """A test using any gochaos fixture (they all need `gochaos_session`) carries the `gochaos` marker."""
    if "gochaos_session" in getattr(item, "fixturenames", ()) and item.get_closest_marker("gochaos") is None:
        item.add_marker("gochaos")


# -- *.chaos.yaml files as test items --------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, pytest.CollectReport,
                                                                          pytest.CollectReport]:
    """A scenario file's skip (not a gochaos scenario) is reported at that file (items.skipped_here)."""
    report = yield
    if report.skipped:
        # deferred: the plugin imports the suite only once a gochaos item or fixture is used
        from chaos.pytest_plugin.items import skipped_here

        skipped_here(collector, report)
    return report


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """`pytest scenarios/` gates a release: every file gochaos_scenarios matches (default `*.chaos.yaml`,
    scenario or suite) is collected, unless gochaos_collect is false (chaos.pytest_plugin.collection)."""
    if collection.scope(parent.config).wants(file_path, named=parent.session.isinitpath(file_path)):
        # deferred: the plugin imports the suite only once a gochaos item or fixture is used
        from chaos.pytest_plugin.items import ScenarioFile

        return ScenarioFile.from_parent(parent, path=file_path)
    return None
