"""Ephemeral kind clusters: created from manifests/kind/cluster.yaml, always deleted afterwards.

Each cluster gets a unique name (gochaos-<hex>) and a private kubeconfig, so nothing touches
~/.kube/config. Deletion happens in `finally` (failures, Ctrl-C); a cluster whose creating
process died without cleaning up (SIGKILL, power cut of the CI job) is found through its record
in the run directory and deleted by the next session. The config maps a fixed range of host
ports (NodePorts on 127.0.0.1), so one cluster at a time can exist per machine: sessions queue
on a lock for that range, bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import locks
from .commands import run
from .docker_engine import DockerEngine
from .errors import ClusterError
from .locations import RunLayout, repo_root
from .processes import same_process, start_time
from .progress import Progress, quiet, step

CLUSTER_CONFIG = repo_root() / "manifests" / "kind" / "cluster.yaml"
CREATE_TIMEOUT = 600.0
DELETE_TIMEOUT = 180.0
READY_TIMEOUT = 300.0
PORTS_WAIT = 30 * 60.0


@dataclass(frozen=True, kw_only=True)
class KindCluster:
    """A running kind cluster and how to reach it."""

    name: str
    kubeconfig: Path
    """A kubeconfig of its own holding only this cluster."""
    node_image: str
    engine: DockerEngine

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    @property
    def node_container(self) -> str:
        """The Docker container of the (single) control-plane node."""
        return f"{self.name}-control-plane"

    def api_client(self) -> Any:
        """A `kubernetes.client.ApiClient` for this cluster (the client is imported lazily)."""
        from kubernetes import config  # heavy import, only when a test talks to the API

        return config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(self.kubeconfig), context=self.context
        )


def unique_name() -> str:
    return f"gochaos-{secrets.token_hex(3)}"


@contextlib.contextmanager
def running_cluster(*, engine: DockerEngine, kind: Path, image: str, workdir: Path,
                    config: Path = CLUSTER_CONFIG, name: str | None = None, run_layout: RunLayout | None = None,
                    progress: Progress = quiet) -> Iterator[KindCluster]:
    """Create a cluster, wait until it can run workloads, yield it, and delete it whatever happens."""
    layout = run_layout or RunLayout()
    name = name or unique_name()
    workdir.mkdir(parents=True, exist_ok=True)
    cluster = KindCluster(name=name, kubeconfig=workdir / "kubeconfig", node_image=image, engine=engine)
    with _host_ports_claimed(layout, progress):
        _delete_orphans(engine, kind, layout, progress)  # a dead session's cluster may still hold the ports
        record = _record(layout, name)
        try:
            with step(progress, f"kind create cluster {name}"):
                _create(cluster, kind, config, workdir, progress)
            with step(progress, f"waiting for cluster {name} to run workloads"):
                wait_until_usable(cluster, timeout=READY_TIMEOUT)
            yield cluster
        finally:
            with step(progress, f"kind delete cluster {name}"):
                delete_cluster(engine, kind, name)
            record.unlink(missing_ok=True)


def delete_cluster(engine: DockerEngine, kind: Path, name: str) -> None:
    """Delete cluster `name` (nodes, and its entry in no kubeconfig but the given one); idempotent."""
    run([kind, "delete", "cluster", "--name", name], error=ClusterError, what=f"kind delete cluster {name}",
        hint=f"remove its containers by hand: docker ps -a --filter label=io.x-k8s.kind.cluster={name}",
        timeout=DELETE_TIMEOUT, env=_kind_env(engine))


def _create(cluster: KindCluster, kind: Path, config: Path, workdir: Path, progress: Progress) -> None:
    try:
        run([kind, "create", "cluster", "--name", cluster.name, "--image", cluster.node_image, "--config", config,
             "--kubeconfig", cluster.kubeconfig, "--retain"],
            error=ClusterError, what=f"kind create cluster {cluster.name}",
            hint=f"node logs are exported to {workdir / 'logs'}", timeout=CREATE_TIMEOUT,
            env=_kind_env(cluster.engine), progress=progress)
    except ClusterError:
        with contextlib.suppress(ClusterError):
            run([kind, "export", "logs", workdir / "logs", "--name", cluster.name], error=ClusterError,
                what="kind export logs", hint="best effort", timeout=120, env=_kind_env(cluster.engine))
        raise


def wait_until_usable(cluster: KindCluster, *, timeout: float) -> None:
    """Wait until the node is Ready, CoreDNS is available and pods can be created in `default`."""
    from kubernetes import client  # heavy import, only once a cluster exists

    api = cluster.api_client()
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
    raise ClusterError(f"cluster {cluster.name} was not usable within {timeout:.0f} s: still waiting for "
                       f"{waiting_for}; inspect it with `docker exec {cluster.node_container} journalctl -u kubelet`")


def _available(deployment: Any) -> int:
    return (deployment.status.available_replicas or 0) if deployment.status else 0


def _node_ready(node: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (node.status.conditions or []))


def _kind_env(engine: DockerEngine) -> dict[str, str]:
    return {**engine.env, "KIND_EXPERIMENTAL_PROVIDER": "docker"}


# -- one cluster per machine (fixed host ports), and orphans of dead sessions ------------------
def _host_ports_claimed(layout: RunLayout, progress: Progress) -> contextlib.AbstractContextManager[None]:
    lock_path = layout.state / "kind-host-ports.lock"
    return locks.held(
        lock_path, timeout_s=PORTS_WAIT,
        timed_out=lambda: ClusterError(f"another session kept the kind host ports (see {CLUSTER_CONFIG.name}) for "
                                       f"{PORTS_WAIT / 60:.0f} min; see `fuser {lock_path}`"),
        waiting=lambda: progress("waiting for another session's kind cluster to release the NodePort range"))


def _record(layout: RunLayout, name: str) -> Path:
    clusters = layout.state / "clusters"
    clusters.mkdir(parents=True, exist_ok=True)
    path = clusters / f"{name}.json"
    pid = os.getpid()
    path.write_text(json.dumps({"name": name, "pid": pid, "start": start_time(pid)}))
    return path


def _delete_orphans(engine: DockerEngine, kind: Path, layout: RunLayout, progress: Progress) -> None:
    for path in sorted((layout.state / "clusters").glob("*.json")):
        try:
            data = json.loads(path.read_text())
            name, pid, start = str(data["name"]), int(data["pid"]), data.get("start")
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if same_process(pid, start):
            continue  # its session is alive and will delete it
        with step(progress, f"deleting cluster {name} left behind by dead process {pid}"):
            delete_cluster(engine, kind, name)
        path.unlink(missing_ok=True)
