"""Is the pod a killed run lived in gone? Asked by the crash clean-up of a run in a later pod.

An in-cluster runner keeps its state file on its reports volume, so the next scheduled run (a new
pod, a new pid namespace, often the same pid 1) finds it. Pids say nothing across pods; the pod
does: once the API no longer has it, has a new pod under its name (another uid), or says it ended,
the run in it is dead and what it held is restored. Anything the API cannot answer is "unknown",
and nothing is undone; so is everything when the client (gochaos[kubernetes]) is not installed.
"""

from __future__ import annotations

from typing import Any

from chaos import extras, state
from chaos.platform.kubernetes.cluster.cluster import IN_CLUSTER, connect, runs_in_cluster
from chaos.platform.kubernetes.cluster.cluster import KubernetesOptions as _Options


def pod_status(pod: str) -> str:
    """"alive", "dead" or "unknown" for `namespace/name/uid`, through this pod's own ServiceAccount."""
    namespace, _, rest = pod.partition("/")
    name, _, uid = rest.partition("/")
    if not (namespace and name and uid) or not runs_in_cluster() or not extras.installed("kubernetes"):
        return "unknown"
    # deferred: the kubernetes client (gochaos[kubernetes]) is optional and slow to import
    from kubernetes import client as client_module  # deferred: the kubernetes client is heavy to import
    from kubernetes.client.exceptions import ApiException

    client: Any = client_module  # untyped package
    access = connect(_Options())
    assert access.context == IN_CLUSTER
    try:
        found = client.CoreV1Api(access.api).read_namespaced_pod(name, namespace)
    except ApiException as e:
        return "dead" if e.status == 404 else "unknown"
    except Exception:
        return "unknown"
    finally:
        access.close()
    if found.metadata.uid != uid or found.status.phase in ("Succeeded", "Failed"):
        return "dead"
    return "alive"


state.judge_pods_with(pod_status)
