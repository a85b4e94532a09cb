"""Crash clean-up of a deployed service's ConfigMap key: the reclaimer of state-file holdings "k8s_config_key".

Before the first write into a team's ConfigMap, the run records what the key held (and how to reach
the cluster again); a revert forgets the record. A run killed mid-storm leaves the record, and the
next run's start (or `gochaos cleanup`) writes the original back. Kept apart from the deployed
service's module so that registering the kind imports nothing heavy.
"""

from __future__ import annotations

from typing import Any

from chaos import state

KIND = "k8s_config_key"


def key_of(namespace: str, configmap: str, key: str) -> str:
    return f"{namespace}/{configmap}/{key}"


@state.kind(KIND, order=30)
def _restore_config_key(holding: state.Holding) -> str:
    """Write the recorded original back into the ConfigMap key, if the cluster and the ConfigMap are still there."""
    from kubernetes import client as client_module
    from kubernetes.client.exceptions import ApiException

    from chaos.platform.kubernetes.cluster import reopen
    from chaos.platform.kubernetes.namespace import FIELD_MANAGER

    client: Any = client_module
    data = holding.data
    work_dir = state.make_temp_dir("gochaos-reclaim-")
    try:
        api = reopen(data["reach"], work_dir)
        if api is None:
            return "cluster gone"
        with api:
            try:
                client.CoreV1Api(api).patch_namespaced_config_map(
                    data["configmap"], data["namespace"], {"data": {data["config_key"]: data["original"]}},
                    field_manager=FIELD_MANAGER)
            except ApiException as e:
                if e.status == 404:
                    return "ConfigMap gone"
                raise
        return "restored"
    finally:
        state.remove_temp_dir(work_dir)
