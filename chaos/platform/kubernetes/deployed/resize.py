"""A squeezed CPU or memory limit on a running pod, in place (the pods/resize subresource).

The Kubernetes twin of `chaos.platform.local.cgroups.CgroupLimit`: the kubelet rewrites the container's cgroup
limits while it runs, so the squeeze lands without a restart (in-place resize, beta and on by
default since Kubernetes 1.33), and `remove()` puts the limits the pod had back. The same works for
the run's own pods and a team's deployed service: only the API is used. The original limits are
recorded in the state file before the squeeze, so a killed run's next start or `gochaos cleanup`
puts them back. A limit the container does not have cannot be taken away again in place, so only a
limit it has is squeezed (else the fault is refused in one line). Where the node is reachable (kind)
the CFS throttling is read from the container's cgroup, as the proof the squeeze bit.
"""

from __future__ import annotations

import time
from typing import Any

from chaos import state
from chaos.errors import InjectionFailed, RevertFailed
from chaos.platform.kubernetes.cluster.kind import KindNode
from chaos.platform.kubernetes.cluster.namespace import reason
from chaos.platform.kubernetes.cluster.podwatch import PodObserver
from chaos.platform.kubernetes.deployed import deployed_reclaim

APPLY_TIMEOUT_S = 15.0


class PodResize:
    """Limits of one target's running container, changed in place and changed back."""

    def __init__(self, core: Any, observer: PodObserver, target: str, *, container: str, node: KindNode | None,
                 reach: dict[str, str], memory_bytes: int | None = None, cpu_millicores: int | None = None) -> None:
        self.core, self.observer, self.target = core, observer, target
        self.namespace, self.container_name, self.node, self._reach = observer.namespace, container, node, reach
        self.limits: dict[str, str] = {}
        if cpu_millicores is not None:
            self.limits["cpu"] = f"{cpu_millicores}m"
        if memory_bytes is not None:
            self.limits["memory"] = str(memory_bytes)
        self.groups: list[tuple[str, str]] = []  # as CgroupLimit: (where, what) for the report
        self._pod: str | None = None
        self._container: str | None = None
        self._original: dict[str, str] = {}
        self._throttled_at_start: int | None = None

    def apply(self) -> None:
        current = self.observer.current
        if current is None:
            raise InjectionFailed(f"{self.target} has no running container to resize")
        pod_name, container_id = current
        pod = self.core.read_namespaced_pod(pod_name, self.namespace)
        spec = next(c for c in pod.spec.containers if c.name == self.container_name)
        have = {k: str(v) for k, v in ((spec.resources.limits or {}) if spec.resources else {}).items()}
        lacking = [k for k in self.limits if k not in have]
        if lacking:
            raise InjectionFailed(f"{self.target}: pod {pod_name}'s container {self.container_name} has no "
                                  f"{' or '.join(lacking)} limit to squeeze in place (a resize cannot take a limit "
                                  "away again); give it one, or use gc_pressure method env or hog")
        self._original = {k: have[k] for k in self.limits}
        self._pod, self._container = pod_name, container_id
        state.hold(deployed_reclaim.POD_LIMITS, self._holding(), f"limits of pod {self.namespace}/{pod_name}",
                   reach=self._reach, namespace=self.namespace, pod=pod_name, container=self.container_name,
                   original=self._original)
        self._throttled_at_start = self._throttled_total()
        self._resize(self.limits)
        self.groups = [(f"pod {self._pod}", f"limits {self.limits}")]

    def throttled_periods(self) -> int | None:
        total = self._throttled_total()
        if total is None or self._throttled_at_start is None:
            return None
        return total - self._throttled_at_start

    def remove(self) -> None:
        if self._pod is None:
            return
        holding = self._holding()
        pod, self._pod = self._pod, None
        try:
            self._resize(self._original, pod=pod)
        except InjectionFailed as e:
            if self.observer.current not in (None, (pod, self._container)):
                state.release(deployed_reclaim.POD_LIMITS, holding)
                return  # the container was replaced: the new one has the workload's own limits
            raise RevertFailed(f"{self.target}: could not restore the limits {self._original} of pod {pod}: {e}; "
                               f"restore them by hand (kubectl -n {self.namespace} delete pod {pod})") from e
        state.release(deployed_reclaim.POD_LIMITS, holding)

    def _holding(self) -> str:
        return f"{self.namespace}/{self._pod}/{self.container_name}"

    def _throttled_total(self) -> int | None:
        node = self.node
        if node is None or self._container is None:
            return None
        return node.throttled_periods(self._container.partition("://")[2] or self._container)

    def _resize(self, limits: dict[str, str], pod: str | None = None) -> None:
        pod = pod or self._pod
        assert pod is not None
        try:
            self.core.patch_namespaced_pod_resize(pod, self.namespace, resize_body(self.container_name, limits))
        except Exception as e:
            raise InjectionFailed(f"in-place resize of pod {pod} to {limits}: {reason(e)} (the cluster needs "
                                  "Kubernetes >= 1.33 with InPlacePodVerticalScaling)") from e
        deadline = time.monotonic() + APPLY_TIMEOUT_S
        while time.monotonic() < deadline:  # the kubelet reports the limits it actually set
            if _applied(self.core.read_namespaced_pod(pod, self.namespace), self.container_name, limits):
                return
            time.sleep(0.2)
        raise InjectionFailed(f"the kubelet did not apply {limits} to pod {pod} within {APPLY_TIMEOUT_S:g}s")


def resize_body(container: str, limits: dict[str, str]) -> dict[str, Any]:
    """The pods/resize patch setting `container`'s `limits`."""
    return {"spec": {"containers": [{"name": container, "resources": {"limits": limits}}]}}


def _applied(pod: Any, container: str, limits: dict[str, str]) -> bool:
    for status in (pod.status.container_statuses or []) if pod.status else []:
        if status.name == container and status.resources is not None:
            have = status.resources.limits or {}
            return all(_same(have.get(k), v) for k, v in limits.items())
    return False


def _same(have: object, want: str) -> bool:
    """Quantities compare by value: '100m' == '0.1', '268435456' == '256Mi'."""
    from kubernetes import utils as utils_module  # deferred: the kubernetes client is heavy to import

    utils: Any = utils_module  # untyped package
    return have is not None and bool(utils.parse_quantity(str(have)) == utils.parse_quantity(want))
