"""The hog on Kubernetes: a BestEffort pod on the target's node, seen through the kind node.

It holds memory and spins a CPU beside the target, as a noisy neighbour on the same node would.
Its resident memory is read from its process in the node (`/proc/<pid>/status`), so the fault
proves the memory was really held, as on the local platform.
"""

from __future__ import annotations

from typing import Any

from chaos.errors import PlatformError
from chaos.observe.readiness import wait_until
from chaos.platform.kubernetes.cluster.manifest_files import load_kustomization, manifests_dir
from chaos.platform.kubernetes.cluster.namespace import reason
from chaos.platform.kubernetes.cluster.run_space import RunSpace
from chaos.platform.kubernetes.workloads import manifests as m
from chaos.platform.procfs import vm_rss_mb

START_TIMEOUT_S = 60.0


class KubeHog:
    """One hog pod (implements `Hog`)."""

    def __init__(self, space: RunSpace, near: str, *, mb: int, cpu: bool, duration_s: float) -> None:
        self.space = space
        self.name = f"hog-{near}"
        node_name = self._target_node(near)
        args = [f"--mb={mb}", f"--cpu={str(cpu).lower()}", f"--duration={duration_s:.3f}s"]
        docs = m.render_hog(load_kustomization(manifests_dir() / "hog"), name=self.name,
                            namespace=space.namespace, run_id=space.run_id, image=space.image("hog"),
                            node=node_name, args=args)
        space.ns.apply(docs)
        self.where = f"pod {self.name} on node {node_name}"
        if not wait_until(lambda: self._container_id() is not None, timeout_s=START_TIMEOUT_S, interval_s=0.1):
            self.stop()
            raise PlatformError(f"the hog pod {self.name} did not start within {START_TIMEOUT_S:g}s; see "
                                f"`kubectl -n {space.namespace} describe pod {self.name}`")

    def rss_mb(self) -> int:
        node, container = self.space.cluster.node, self._container_id()
        if node is None or container is None:
            return 0
        try:
            pid = node.container_pid(container)
            return vm_rss_mb(node.exec("cat", f"/proc/{pid}/status", what="read the hog's status"))
        except PlatformError:
            return 0  # it exited (its duration is over) or is between states

    def stop(self) -> None:
        self.space.ns.delete_object(self.space.core.delete_namespaced_pod, self.name)

    def _target_node(self, near: str) -> str:
        selector = f"{m.TARGET_LABEL}={near}"
        pods = self.space.core.list_namespaced_pod(self.space.namespace, label_selector=selector).items
        nodes = [pod.spec.node_name for pod in pods if pod.spec.node_name]
        if not nodes:
            raise PlatformError(f"target {near} has no scheduled pod to put the hog beside")
        return str(nodes[0])

    def _container_id(self) -> str | None:
        try:
            pod: Any = self.space.core.read_namespaced_pod(self.name, self.space.namespace)
        except Exception as e:
            if getattr(e, "status", None) == 404:
                return None
            raise PlatformError(f"read pod {self.name}: {reason(e)}") from e
        for status in pod.status.container_statuses or []:
            if status.container_id and status.state and status.state.running:
                return str(status.container_id).partition("://")[2]
        return None
