"""Locust workers as pods beside a run that itself runs in the cluster (Locust's own distributed mode).

One runner pod has the cores of one node share; load that outgrows it runs as N worker pods of the
runner's own image, each `python -m chaos.load.child --role worker` connected to the master the run
starts on its pod IP. The workers load the target's Service (so a deleted or restarted pod is
routed around as for any client), and every request result travels back over Locust's messages
to the master and onto the run's timeline, as with local workers.

The pods live in the runner's namespace, carry the run's labels, and are owned by the runner's pod:
if the runner is deleted, Kubernetes' garbage collector deletes them too. They exit by themselves
after the load's time limit, and the run deletes them when the load ends, on failure too. Creating
them needs `create`, `get`, `list` and `delete` on pods in the runner's own namespace
(manifests/runner/role.yaml), asked up front with a SelfSubjectAccessReview.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chaos.errors import PlatformError, UsageError
from chaos.platform.kubernetes.cluster import rights
from chaos.platform.kubernetes.cluster.manifest_files import run_labels
from chaos.platform.kubernetes.cluster.rights import Need
from chaos.timeline import EventKind, Timeline

NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
ROLE_LABEL = "gochaos.io/role"
WORKER_ROLE = "load-worker"
#: What the run does with pods in its own namespace to keep worker pods (manifests/runner/role.yaml grants it).
POD_VERBS = ("create", "get", "list", "delete")


def _own_pod(core: Any) -> Any:
    """This runner's own pod (its name is the hostname the kubelet gives the container)."""
    from kubernetes.client.exceptions import ApiException  # deferred: the kubernetes client is heavy to import

    try:
        namespace = NAMESPACE_FILE.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise UsageError("load.worker_pods needs the run inside the cluster (manifests/runner): worker pods must "
                         f"reach the run's Locust master, and this run has no pod ({e.strerror})") from e
    name = os.environ.get("HOSTNAME", "")
    try:
        return core.read_namespaced_pod(name, namespace)
    except ApiException as e:
        raise PlatformError(f"cannot read this runner's own pod {namespace}/{name} (HTTP {e.status}): worker pods "
                            "are made from its image and owned by it; see manifests/runner/role.yaml") from e


class WorkerPods:
    """`count` worker pods of the runner's image; `stop` deletes them (they also end on their own)."""

    def __init__(self, api: Any, run_id: str, timeline: Timeline, count: int,
                 args: Callable[[str], list[str]]) -> None:
        from kubernetes import client as client_module  # deferred: the kubernetes client is heavy to import

        client: Any = client_module  # untyped package
        self._core = client.CoreV1Api(api)
        me = _own_pod(self._core)
        self.namespace = str(me.metadata.namespace)
        rights.require(api, [Need(verb, "pods", self.namespace) for verb in POD_VERBS])
        master_host = str(me.status.pod_ip)
        image = next(c.image for c in me.spec.containers if c.image)
        labels = {**run_labels(run_id), ROLE_LABEL: WORKER_ROLE}
        owner = {"apiVersion": "v1", "kind": "Pod", "name": me.metadata.name, "uid": me.metadata.uid}
        self.where: list[str] = []
        try:
            for i in range(count):
                name = f"gochaos-{run_id}-worker-{i}"
                self._core.create_namespaced_pod(self.namespace, {
                    "metadata": {"name": name, "labels": labels, "ownerReferences": [owner]},
                    "spec": self._pod_spec(me, image, ["python", "-m", "chaos.load.child", *args(master_host)])})
                self.where.append(name)
        except BaseException:
            self.stop()
            raise
        timeline.record(EventKind.LOAD_START, "load-workers", pods=list(self.where), namespace=self.namespace,
                        master=master_host)

    @staticmethod
    def _pod_spec(me: Any, image: str, command: list[str]) -> dict[str, Any]:
        """The runner's image, user and pull policy; no API access, no restarts (a worker that dies is gone)."""
        runner = me.spec.containers[0]
        security = me.spec.security_context
        return {
            "restartPolicy": "Never", "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 5,
            "securityContext": {"runAsNonRoot": True, "runAsUser": security.run_as_user,
                                "runAsGroup": security.run_as_group} if security and security.run_as_user else {},
            "containers": [{
                "name": "worker", "image": image, "imagePullPolicy": runner.image_pull_policy or "IfNotPresent",
                "command": command, "env": [{"name": "HOME", "value": "/tmp"}],
                "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
            "imagePullSecrets": [{"name": s.name} for s in me.spec.image_pull_secrets or []],
        }

    def stop(self) -> None:
        """Delete the run's worker pods (no grace: the load is over or failed)."""
        if not self.where:
            return
        from kubernetes.client.exceptions import ApiException  # deferred: the kubernetes client is heavy to import

        failed = []
        for name in self.where:
            try:
                self._core.delete_namespaced_pod(name, self.namespace, grace_period_seconds=0)
            except ApiException as e:
                if e.status != 404:  # already gone is what we want
                    failed.append(f"{name}: HTTP {e.status}")
        self.where = []
        if failed:
            raise PlatformError(f"could not delete worker pods in {self.namespace} ({'; '.join(failed)}); they exit "
                                "on their own after the load's time limit, and go with the runner's pod")
