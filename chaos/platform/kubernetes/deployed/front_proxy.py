"""A chaosproxy pod in front of a deployed service's Service: the route of its load link.

A service already deployed is never changed to route a link (no sidecar is added to its pods). Its
load link is routed instead by a pod of the run's own in the service's namespace (opted in with its
label), chaosproxy holding one link: from the pod's IP to the Service's host:port. The load reaches
that pod through a tunnel (port-forward, or the pod network when the run is inside the cluster) and
crosses the Service as before, so pods a fault deletes are replaced behind it as usual.

The pod is recorded in the state ledger before it is created (a SIGKILLed run's pod is deleted by
`gochaos cleanup` or the next run), deleted when the platform closes, and bounded by
`activeDeadlineSeconds` besides, so it cannot outlive a run by much whatever happens.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from chaos import state
from chaos.errors import PlatformError
from chaos.network.links import LinkKind, load_link
from chaos.network.routing import RoutedLink
from chaos.platform.kubernetes.chaosproxy import FIRST_LINK_PORT, PodLinks, proxy_container
from chaos.platform.kubernetes.cluster.manifest_files import run_labels
from chaos.platform.kubernetes.cluster.namespace import reason
from chaos.platform.kubernetes.cluster.rights import Need
from chaos.platform.kubernetes.deployed import deployed_reclaim
from chaos.targets import Deployed

#: How long the pod may live at most, whatever becomes of the run (the kubelet ends it then).
DEADLINE_S = 6 * 3600
#: How long it may take to start (its image is on the node or pulled by the cluster).
START_TIMEOUT_S = 60.0


def front_links(target: str, service_url: str) -> PodLinks:
    """The one link of the front proxy: the load, from the pod's IP to the Service's host:port."""
    link = RoutedLink(load_link(target, None), LinkKind.LOAD, target, None, "tcp", f"0.0.0.0:{FIRST_LINK_PORT}",
                      urlsplit(service_url).netloc)
    return PodLinks(target, (link,))


def pod_name(target: str, run_id: str) -> str:
    return f"chaosproxy-{target}-{run_id}"[:63].rstrip("-")


def needs(deployed: Deployed) -> list[Need]:
    """What creating, watching and deleting the pod asks of RBAC in the service's namespace."""
    return [Need(verb, "pods", deployed.namespace) for verb in ("create", "delete")]


def render_pod(name: str, namespace: str, run_id: str, links: PodLinks, image: str) -> dict[str, Any]:
    """The front proxy's Pod: one unprivileged container, no service account token, bounded in time."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {**run_labels(run_id), "app.kubernetes.io/name": "chaosproxy",
                                    "gochaos.io/front-of": links.target}},
            "spec": {"automountServiceAccountToken": False, "enableServiceLinks": False, "restartPolicy": "Never",
                     "terminationGracePeriodSeconds": 2, "activeDeadlineSeconds": DEADLINE_S,
                     "containers": [proxy_container(links, image)]}}


class FrontProxy:
    """The pod, created by `start()` and deleted by `stop()` (both recorded in the ledger)."""

    def __init__(self, core: Any, *, namespace: str, run_id: str, links: PodLinks, image: str,
                 reach: dict[str, str]) -> None:
        self.core, self.namespace, self.links = core, namespace, links
        self.name = pod_name(links.target, run_id)
        self._body = render_pod(self.name, namespace, run_id, links, image)
        self._reach = reach
        self._key = f"{namespace}/{self.name}"

    def start(self) -> FrontProxy:
        """Create the pod and wait until it runs; PlatformError saying what its status says when it does not."""
        state.hold(deployed_reclaim.PROXY_POD, self._key, f"chaosproxy pod {self._key}", reach=self._reach,
                   namespace=self.namespace, pod=self.name)
        try:
            self.core.create_namespaced_pod(self.namespace, self._body)
        except Exception as e:
            state.release(deployed_reclaim.PROXY_POD, self._key)
            raise PlatformError(f"create pod {self._key} (chaosproxy in front of {self.links.target}'s Service): "
                                f"{reason(e)}") from e
        deadline = time.monotonic() + START_TIMEOUT_S
        said = "no status yet"
        while time.monotonic() < deadline:
            pod = self.core.read_namespaced_pod(self.name, self.namespace)
            statuses = (pod.status.container_statuses or []) if pod.status else []
            if statuses and statuses[0].state and statuses[0].state.running:
                return self
            waiting = statuses[0].state.waiting if statuses and statuses[0].state else None
            said = f"{waiting.reason}: {waiting.message or ''}" if waiting else (pod.status.phase or said)
            time.sleep(0.2)
        self.stop()
        raise PlatformError(f"pod {self._key} (chaosproxy in front of {self.links.target}'s Service) did not run "
                            f"within {START_TIMEOUT_S:g}s: {said}; its image must be in the cluster (on kind the "
                            "suite loads it; elsewhere push it and name it in GOCHAOS_CHAOSPROXY_IMAGE)")

    def stop(self) -> None:
        """Delete the pod (gone already is fine) and forget it."""
        try:
            self.core.delete_namespaced_pod(self.name, self.namespace, grace_period_seconds=0)
        except Exception as e:
            if getattr(e, "status", None) != 404:
                raise PlatformError(f"delete pod {self._key}: {reason(e)}; delete it with `kubectl -n "
                                    f"{self.namespace} delete pod {self.name}`") from e
        state.release(deployed_reclaim.PROXY_POD, self._key)


def front_pod_address(core: Any, namespace: str, name: str) -> str | None:
    """The pod IP of the front proxy (a run inside the cluster reaches it over the pod network)."""
    pod = core.read_namespaced_pod(name, namespace)
    return pod.status.pod_ip if pod.status is not None else None
