"""Crash clean-up of what runs change in a team's deployed service: state-file holdings of two kinds.

- "k8s_config_key": before the first write into a ConfigMap (or Secret) key, what the key held;
- "k8s_workload_env": before the first env rollout of a Deployment/StatefulSet, its container's
  values of the variables changed (None: absent);
- "k8s_pod_limits": before an in-place resize of a pod (gc_pressure cgroup), its container's limits;
- "k8s_proxy_pod": before it is created, the chaosproxy pod in front of the service's Service (a network fault
  on its load link), deleted.

A revert forgets the record; a run killed mid-fault leaves it, and the next run's start (or
`gochaos cleanup`) puts the original back, reaching the cluster again from what was recorded. Kept
apart from the deployed service's module so that registering the kinds imports nothing heavy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from chaos import extras, state
from chaos.errors import PlatformError
from chaos.platform.kubernetes.cluster.namespace_reclaim import RECLAIM_NEEDS

if TYPE_CHECKING:
    from chaos.platform.kubernetes.cluster.config_key import ConfigKey

CONFIG_KEY = "k8s_config_key"
WORKLOAD_ENV = "k8s_workload_env"
POD_LIMITS = "k8s_pod_limits"
PROXY_POD = "k8s_proxy_pod"


def config_key_id(where: ConfigKey) -> str:
    return f"{where.namespace}/{where.name}/{where.key}"


def workload_env_id(namespace: str, workload: str, container: str) -> str:
    return f"{namespace}/{workload}/{container}"


def env_patch(container: str, env: Mapping[str, str | None], stamp: str) -> dict[str, Any]:
    """A strategic merge patch setting (or, for None, removing) `env` of `container`, which rolls the pods."""
    entries = [{"name": key, "value": value} if value is not None else {"name": key, "$patch": "delete"}
               for key, value in env.items()]
    return {"spec": {"template": {"metadata": {"annotations": {"gochaos.io/restarted-at": stamp}},
                                  "spec": {"containers": [{"name": container, "env": entries}]}}}}


def _with_cluster(holding: state.Holding, act: Callable[[Any], str]) -> str:
    """`act` on the cluster the holding's run recorded; an object deleted since is "already gone"."""
    from kubernetes.client.exceptions import ApiException  # deferred: the kubernetes client is heavy to import

    # deferred: a reclaimer registers with the ledger importing nothing of the Kubernetes wing
    from chaos.platform.kubernetes.cluster.cluster import on_recorded_cluster

    def guarded(api: Any) -> str:
        try:
            return act(api)
        except (ApiException, PlatformError) as e:
            cause = e if isinstance(e, ApiException) else e.__cause__
            if isinstance(cause, ApiException) and cause.status == 404:
                return "already gone"
            raise

    return on_recorded_cluster(holding.data["reach"], guarded)


def _with_core(holding: state.Holding, act: Callable[[Any], str]) -> str:
    """`act` on the CoreV1Api of the cluster the holding's run recorded (see `_with_cluster`)."""
    extras.require("kubernetes", RECLAIM_NEEDS)
    from kubernetes import client as client_module  # deferred: the kubernetes client is heavy to import

    client: Any = client_module
    return _with_cluster(holding, lambda api: act(client.CoreV1Api(api)))


@state.kind(CONFIG_KEY, order=30)
def _restore_config_key(holding: state.Holding) -> str:
    """Write the recorded original back into the ConfigMap key."""
    # deferred: a reclaimer registers with the ledger importing nothing of the Kubernetes wing
    from chaos.platform.kubernetes.cluster.config_key import ConfigKey

    data = holding.data

    def restore(core: Any) -> str:
        ConfigKey(core, data["namespace"], data["configmap"], data["config_key"],
                  data.get("object_kind", "ConfigMap")).write(data["original"])
        return "restored"

    return _with_core(holding, restore)


@state.kind(WORKLOAD_ENV, order=30)
def _restore_workload_env(holding: state.Holding) -> str:
    """Roll the workload back to its recorded env values (not waiting for the rollout)."""
    extras.require("kubernetes", RECLAIM_NEEDS)

    from kubernetes import client as client_module  # deferred: the kubernetes client is heavy to import

    # deferred: a reclaimer registers with the ledger importing nothing of the Kubernetes wing
    from chaos.platform.kubernetes.cluster.namespace import FIELD_MANAGER

    client: Any = client_module
    data = holding.data

    def restore(api: Any) -> str:
        apps = client.AppsV1Api(api)
        patch = apps.patch_namespaced_deployment if data["kind"] == "deployment" else apps.patch_namespaced_stateful_set
        patch(data["name"], data["namespace"], env_patch(data["container"], data["original"], str(time.time_ns())),
              field_manager=FIELD_MANAGER)
        return "env restored"

    return _with_cluster(holding, restore)


@state.kind(POD_LIMITS, order=30)
def _restore_pod_limits(holding: state.Holding) -> str:
    """Resize the pod's container back to its recorded limits (a pod deleted since has its workload's own)."""
    # deferred: a reclaimer registers with the ledger importing nothing of the Kubernetes wing
    from chaos.platform.kubernetes.deployed.resize import resize_body

    data = holding.data

    def restore(core: Any) -> str:
        core.patch_namespaced_pod_resize(data["pod"], data["namespace"], resize_body(data["container"],
                                                                                    data["original"]))
        return "limits restored"

    return _with_core(holding, restore)


@state.kind(PROXY_POD, order=30)
def _delete_proxy_pod(holding: state.Holding) -> str:
    """Delete the chaosproxy pod a run put in front of a deployed service's Service."""
    data = holding.data

    def delete(core: Any) -> str:
        core.delete_namespaced_pod(data["pod"], data["namespace"], grace_period_seconds=0)
        return "deleted"

    return _with_core(holding, delete)
