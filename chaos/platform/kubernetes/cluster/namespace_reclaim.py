"""Crash clean-up of the namespaces runs create: the reclaimer of state-file holdings "k8s_namespace".

Kept apart from `chaos.platform.kubernetes.cluster.namespace` so that registering it (which `chaos.state` does for
every kind, also at interpreter exit) imports nothing heavy; the cluster is reached, from what the
run recorded, only when there is a namespace to delete.
"""

from __future__ import annotations

from typing import Any

from chaos import extras, state

KIND = "k8s_namespace"
#: Why a crash clean-up on a cluster needs gochaos[kubernetes] (MissingExtra: the ledger keeps the holding).
RECLAIM_NEEDS = "it is on a Kubernetes cluster, reached with the official client"


@state.kind(KIND, order=35)
def _reclaim_namespace(holding: state.Holding) -> str:
    """Delete the namespace a dead run left on a cluster that is still there (not waiting for it)."""
    extras.require("kubernetes", RECLAIM_NEEDS)
    from kubernetes import client as client_module  # deferred: the kubernetes client is heavy to import

    # deferred: a reclaimer registers with the ledger importing nothing of the Kubernetes wing
    from chaos.platform.kubernetes.cluster.cluster import on_recorded_cluster
    from chaos.platform.kubernetes.cluster.namespace import delete_run_namespace

    client: Any = client_module

    def delete(api: Any) -> str:
        deleted = delete_run_namespace(client.CoreV1Api(api), holding.key, str(holding.data.get("run_id")))
        return "deleted" if deleted else "already gone"

    return on_recorded_cluster(holding.data, delete)
