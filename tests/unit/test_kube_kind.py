"""KindCluster's commands, with stand-in `kind` and `docker` executables that log how they were called.

No Docker engine or kind is needed: the stand-ins answer like kind and docker would and record
each call with the DOCKER_HOST it saw, so these tests show which binary and which engine every
create, kubeconfig, node and delete command used, and what a failed create leaves behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chaos import state
from chaos.errors import PlatformError
from chaos.platform.kubernetes.cluster.kind import KindCluster

FAKE_KIND = """#!/bin/sh
echo "kind DOCKER_HOST=${DOCKER_HOST:-} $*" >> "$FAKE_LOG"
case "$1 $2" in
  "get clusters") cat "$FAKE_CLUSTERS" 2>/dev/null || true ;;
  "get nodes") echo "$4-control-plane" ;;
  "get kubeconfig") echo "apiVersion: v1" ;;
  "create cluster")
    [ -n "${FAKE_CREATE_FAILS:-}" ] && { echo "ERROR: failed to create cluster" >&2; exit 1; }
    echo "$4" >> "$FAKE_CLUSTERS"
    while [ $# -gt 1 ]; do [ "$1" = --kubeconfig ] && echo "apiVersion: v1" > "$2"; shift; done ;;
  "delete cluster") : ;;
  "export logs") mkdir -p "$3" ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"""

FAKE_DOCKER = """#!/bin/sh
echo "docker DOCKER_HOST=${DOCKER_HOST:-} $*" >> "$FAKE_LOG"
case "$1" in
  version) echo 20.10.24 ;;
  image) exit 0 ;;
  inspect) echo '[{"Mounts": []}]' ;;
  exec) echo ok ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"""


@dataclass(frozen=True)
class Tools:
    kind: Path
    log: Path
    config: Path

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


def _executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tools]:
    """Stand-in kind (GOCHAOS_KIND) and docker (GOCHAOS_DOCKER); DOCKER_HOST names the environment's engine."""
    log = tmp_path / "calls.log"
    kind = _executable(tmp_path / "kind", FAKE_KIND)
    monkeypatch.setenv("GOCHAOS_KIND", str(kind))
    monkeypatch.setenv("GOCHAOS_DOCKER", str(_executable(tmp_path / "docker", FAKE_DOCKER)))
    monkeypatch.setenv("DOCKER_HOST", "unix:///environment.sock")
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("FAKE_CLUSTERS", str(tmp_path / "clusters"))
    monkeypatch.setenv("GOCHAOS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("GOCHAOS_KIND_NODE_IMAGE", raising=False)
    config = tmp_path / "cluster.yaml"
    config.write_text("kind: Cluster\n")
    before = list(state.held())  # a session's own (e.g. the e2e tests' cluster) are not this test's
    yield Tools(kind=kind, log=log, config=config)
    left = [h for h in state.held() if h.kind in ("kind_cluster", "dir") and h not in before]
    assert not left, f"a test left a holding behind: {left}"


def _held_cluster(name: str) -> state.Holding:
    return next(h for h in state.held() if h.kind == "kind_cluster" and h.key == name)


def test_by_default_kind_and_the_engine_come_from_the_environment(tools: Tools) -> None:
    cluster = KindCluster(node_image="gochaos/node:1", config=tools.config)
    try:
        cluster.open()
        assert cluster.kubeconfig is not None and cluster.kubeconfig.is_file()
        assert _held_cluster(cluster.name).data == {"docker_host": "unix:///environment.sock", "kind": str(tools.kind)}
        assert cluster.node is not None and cluster.node.container == f"{cluster.name}-control-plane"
    finally:
        cluster.close()
    calls = tools.calls()
    assert calls and all("DOCKER_HOST=unix:///environment.sock " in call for call in calls), calls
    create = next(call for call in calls if " create cluster " in call)
    assert "--image gochaos/node:1" in create and "--retain" not in create
    assert f"kind DOCKER_HOST=unix:///environment.sock delete cluster --name {cluster.name}" in calls


def test_a_named_kind_binary_and_engine_are_used_for_every_command(tools: Tools, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    own_kind = _executable(tmp_path / "own-kind", FAKE_KIND.replace('echo "kind ', 'echo "own-kind '))
    monkeypatch.setenv("GOCHAOS_KIND", str(tmp_path / "missing-kind"))
    cluster = KindCluster(node_image="gochaos/node:1", config=tools.config, kind_binary=str(own_kind),
                          docker_host="unix:///own.sock")
    try:
        cluster.open()
        assert _held_cluster(cluster.name).data == {"docker_host": "unix:///own.sock", "kind": str(own_kind)}
        assert cluster.node is not None
        cluster.node.exec("true", what="a command in the node")
    finally:
        cluster.close()
    calls = tools.calls()
    assert all("DOCKER_HOST=unix:///own.sock " in call for call in calls), calls
    assert not [call for call in calls if call.startswith("kind ")], "the environment's kind was used"
    assert f"docker DOCKER_HOST=unix:///own.sock exec {cluster.name}-control-plane true" in calls
    assert calls[-1] == f"own-kind DOCKER_HOST=unix:///own.sock delete cluster --name {cluster.name}"
    assert os.environ["DOCKER_HOST"] == "unix:///environment.sock"


def test_a_failed_create_with_a_logs_dir_keeps_the_nodes_for_their_logs_and_close_deletes_them(
        tools: Tools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_CREATE_FAILS", "1")
    logs = tmp_path / "logs"
    cluster = KindCluster(node_image="gochaos/node:1", config=tools.config, logs_dir=logs)
    try:
        with pytest.raises(PlatformError, match=f"failed to create cluster.*node logs in {logs}"):
            cluster.open()
    finally:
        cluster.close()
    calls = [call.removeprefix("kind DOCKER_HOST=unix:///environment.sock ") for call in tools.calls()]
    create = next(call for call in calls if call.startswith("create cluster "))
    assert create.endswith("--retain --image gochaos/node:1"), create
    assert calls[-2:] == [f"export logs {logs} --name {cluster.name}", f"delete cluster --name {cluster.name}"]
    assert logs.is_dir()


def test_a_failed_create_without_a_logs_dir_exports_nothing(tools: Tools, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_CREATE_FAILS", "1")
    cluster = KindCluster(node_image="gochaos/node:1", config=tools.config)
    try:
        with pytest.raises(PlatformError, match="failed to create cluster") as failed:
            cluster.open()
        assert "node logs" not in str(failed.value)
    finally:
        cluster.close()
    calls = tools.calls()
    assert not [call for call in calls if "--retain" in call or " export logs " in call], calls
    assert calls[-1].endswith(f"delete cluster --name {cluster.name}")
