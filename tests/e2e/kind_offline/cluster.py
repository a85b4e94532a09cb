"""Ephemeral kind clusters for the e2e tests, made by gochaos's own `KindCluster` on our engine.

`chaos.platform.kubernetes.cluster.kind.KindCluster` creates the cluster (unique name, private kubeconfig,
manifests/kind/cluster.yaml), records it in gochaos's state file and deletes it; here it gets our
kind binary and our dockerd, and this module adds what only the tests need: a wait until the
cluster can run workloads, node logs exported when a create fails, and a queue for the host
ports. The config maps a fixed range of host ports (NodePorts on 127.0.0.1), so one cluster at a
time can exist per machine: sessions queue on a lock for that range, bounded, and once they hold
it delete whatever clusters dead sessions left behind (found through their state files).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chaos.errors import PlatformError
from chaos.platform.factory import reclaim_dead_runs
from chaos.platform.kubernetes.cluster.kind import KindCluster

from . import locks
from .docker_engine import DockerEngine
from .errors import ClusterError
from .locations import RunLayout
from .progress import Progress, quiet, step

READY_TIMEOUT = 300.0
PORTS_WAIT = 30 * 60.0


@contextlib.contextmanager
def running_cluster(*, engine: DockerEngine, kind: Path, image: str, workdir: Path, config: Path | None = None,
                    run_layout: RunLayout | None = None, progress: Progress = quiet) -> Iterator[KindCluster]:
    """Create a cluster, wait until it can run workloads, yield it, and delete it whatever happens.

    `config` defaults to manifests/kind/cluster.yaml; a failed create exports the node logs to
    `workdir`/logs.
    """
    layout = run_layout or RunLayout()
    workdir.mkdir(parents=True, exist_ok=True)
    cluster = KindCluster(node_image=image, config=config, kind_binary=str(kind), docker_host=engine.docker_host,
                          logs_dir=workdir / "logs")
    with _host_ports_claimed(layout, progress):
        _delete_orphans(progress)  # a dead session's cluster may still hold the ports
        try:
            with step(progress, f"kind create cluster {cluster.name}"), _as_cluster_error():
                cluster.open()
            with step(progress, f"waiting for cluster {cluster.name} to run workloads"):
                wait_until_usable(cluster, timeout=READY_TIMEOUT)
            yield cluster
        finally:
            with step(progress, f"kind delete cluster {cluster.name}"), _as_cluster_error():
                cluster.close()


def api_client(cluster: KindCluster) -> Any:
    """A `kubernetes.client.ApiClient` for an open cluster (the client is imported lazily)."""
    from kubernetes import config as kube_config_module  # heavy import, only when a test talks to the API

    kube_config: Any = kube_config_module  # untyped package
    if cluster.kubeconfig is None:
        raise ClusterError(f"cluster {cluster.name} is not open: it has no kubeconfig yet")
    return kube_config.new_client_from_config(config_file=str(cluster.kubeconfig), context=cluster.context,
                                              persist_config=False)


def wait_until_usable(cluster: KindCluster, *, timeout: float) -> None:
    """Wait until the node is Ready, CoreDNS is available and pods can be created in `default`."""
    from kubernetes import client  # heavy import, only once a cluster exists

    api = api_client(cluster)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    deadline = time.monotonic() + timeout
    waiting_for = "the API server"
    while time.monotonic() < deadline:
        try:
            nodes = core.list_node().items
            if not nodes or not all(_node_ready(n) for n in nodes):
                waiting_for = "the node to be Ready"
            elif not _available(apps.read_namespaced_deployment("coredns", "kube-system")):
                waiting_for = "CoreDNS to be available"
            elif not core.list_namespaced_service_account("default", field_selector="metadata.name=default").items:
                waiting_for = "the default service account"
            else:
                return
        except Exception as e:  # the API server may still be starting: connection refused, 5xx, 404
            waiting_for = f"the API server ({type(e).__name__})"
        time.sleep(1.0)
    node = cluster.node.container if cluster.node is not None else f"{cluster.name}-control-plane"
    raise ClusterError(f"cluster {cluster.name} was not usable within {timeout:.0f} s: still waiting for "
                       f"{waiting_for}; inspect it with `docker exec {node} journalctl -u kubelet`")


def _available(deployment: Any) -> int:
    return (deployment.status.available_replicas or 0) if deployment.status else 0


def _node_ready(node: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (node.status.conditions or []))


@contextlib.contextmanager
def _as_cluster_error() -> Iterator[None]:
    """gochaos's PlatformError from creating or deleting a cluster, raised as this package's ClusterError."""
    try:
        yield
    except PlatformError as e:
        raise ClusterError(str(e)) from e


# -- one cluster per machine (fixed host ports), and orphans of dead sessions ------------------
def _host_ports_claimed(layout: RunLayout, progress: Progress) -> contextlib.AbstractContextManager[None]:
    lock_path = layout.state / "kind-host-ports.lock"
    return locks.held(
        lock_path, timeout_s=PORTS_WAIT,
        timed_out=lambda: ClusterError(f"another session kept the kind host ports (see manifests/kind/cluster.yaml) "
                                       f"for {PORTS_WAIT / 60:.0f} min; see `fuser {lock_path}`"),
        waiting=lambda: progress("waiting for another session's kind cluster to release the NodePort range"))


def _delete_orphans(progress: Progress) -> None:
    """What dead gochaos processes left (their kind clusters among it), undone now that our engine answers."""
    reclaim_dead_runs(report=lambda line: progress(f"cleaned up after a dead session: {line}"))
