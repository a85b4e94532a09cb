"""Session fixtures for Kubernetes e2e tests: a Docker engine, kind, a node image, a kind cluster.

Everything is real and built on this machine (see kind_offline/README.md): the first run on a
fresh machine builds Kubernetes from source (15-25 min), later runs reuse the cached node image.
Tests marked `kubernetes` are therefore opt-in: they run with `-m kubernetes` (or with
GOCHAOS_E2E_KUBERNETES=1) and are skipped, with that reason, otherwise. A fixture that cannot
work on this machine (not root, no apt, no Go) skips with a one-line reason; anything else that
fails is an error, never a silent pass.

Fixtures: docker_engine, kind_binary, kind_node_image, gochaos_kind_cluster (all session-scoped; the
cluster and the dockerd this session started are removed at the end, also on failure or Ctrl-C).
`gochaos_kind_cluster` yields gochaos's own `KindCluster` (open), like the gochaos plugin's fixture it overrides.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kind_offline import (
    DockerEngine,
    PrerequisiteMissing,
    acquire,
    ensure_kind,
    ensure_node_image,
    release,
    running_cluster,
)

from chaos.platform.kubernetes.cluster.kind import KindCluster

OPT_IN_ENV = "GOCHAOS_E2E_KUBERNETES"
OPT_IN_REASON = (
    "Kubernetes e2e tests are opt-in (a cold run builds Kubernetes for the kind node image, 15-25 min): "
    f"run `pytest tests/e2e -m kubernetes` or set {OPT_IN_ENV}=1"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _opted_in(config):
        return
    skip = pytest.mark.skip(reason=OPT_IN_REASON)
    for item in items:
        if item.get_closest_marker("kubernetes") is not None:
            item.add_marker(skip)


def _opted_in(config: pytest.Config) -> bool:
    if os.environ.get(OPT_IN_ENV, "") not in ("", "0"):
        return True
    markexpr = str(config.getoption("markexpr") or "")
    return "kubernetes" in markexpr and "not kubernetes" not in markexpr


@pytest.fixture(scope="session")
def kind_progress(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Progress lines for long steps, shown live even while pytest captures output."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def show(line: str) -> None:
        if reporter is None:
            return
        if capture is None:
            reporter.write_line(f"[kind-offline] {line}")
            return
        with capture.global_and_fixture_disabled():  # past pytest's capture, straight to the terminal
            reporter.write_line(f"[kind-offline] {line}")

    return show


@pytest.fixture(scope="session")
def docker_engine(kind_progress: Callable[[str], None]) -> Iterator[DockerEngine]:
    """A Docker engine kind can use; DOCKER_HOST points at it for the session."""
    try:
        engine = acquire(progress=kind_progress)
    except PrerequisiteMissing as e:
        pytest.skip(str(e))
    previous = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = engine.docker_host
    try:
        yield engine
    finally:
        if previous is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = previous
        release(engine, progress=kind_progress)


@pytest.fixture(scope="session")
def kind_binary(kind_progress: Callable[[str], None]) -> str:
    """Path of kind at the pinned version, installed from the Go module proxy on first use."""
    try:
        return str(ensure_kind(progress=kind_progress))
    except PrerequisiteMissing as e:
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def kind_node_image(docker_engine: DockerEngine, kind_progress: Callable[[str], None]) -> str:
    """Tag of the offline node image, built (cold: minutes) or found in the engine (warm: instant)."""
    try:
        return ensure_node_image(docker_engine, progress=kind_progress)
    except PrerequisiteMissing as e:
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def gochaos_kind_cluster(
    docker_engine: DockerEngine,
    kind_binary: str,
    kind_node_image: str,
    tmp_path_factory: pytest.TempPathFactory,
    kind_progress: Callable[[str], None],
    gochaos_session: None,
) -> Iterator[KindCluster]:
    """A fresh single-node cluster from manifests/kind/cluster.yaml, usable for workloads.

    Asks for `gochaos_session` as the plugin's own fixture does: the session is chaos-ready first."""
    with running_cluster(
        engine=docker_engine,
        kind=Path(kind_binary),
        image=kind_node_image,
        workdir=tmp_path_factory.mktemp("kind"),
        progress=kind_progress,
    ) as cluster:
        yield cluster
