"""Which Kubernetes cluster a run may use, and the client that talks to it.

Four ways in: an ephemeral kind cluster (the default), a kind cluster reused by name
(`--kind-cluster`), any kubeconfig/context (`--kubeconfig`, `--context`) for runs against staging
from outside, and the cluster the suite runs in (a pod with a ServiceAccount, e.g. the CronJob of
manifests/runner), taken when no kubeconfig, context or kind cluster is named. Faults are only
injected into a context that is a local kind cluster (name `kind-*`, API server on 127.0.0.1)
unless it was named with `--allow-context`: a typo in a context name must never put chaos into
production. In-cluster there is no context to mistype: the runner's RBAC and the namespaces'
opt-in label are the guard.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from chaos import extras, state
from chaos.errors import PlatformError, UsageError
from chaos.platform.kubernetes.cluster.kind import KindCluster, KindNode, kind_cli, run_tool


@dataclass(frozen=True, slots=True, kw_only=True)
class KubernetesOptions:
    """How to reach a cluster (CLI flags / GOCHAOS_* env / pytest options)."""

    kubeconfig: Path | None = field(default=None, metadata={"doc": "use this kubeconfig (any cluster)"})
    context: str | None = field(default=None, metadata={"doc": "context in it (default: its current one)"})
    allow_contexts: tuple[str, ...] = field(default=(), metadata={"doc": "non-kind contexts allowed for faults"})
    kind_cluster: str | None = field(default=None, metadata={"doc": "reuse this kind cluster, never delete it"})
    keep_cluster: bool = field(default=False, metadata={"doc": "keep the kind cluster created for the run"})
    node_image: str | None = field(default=None, metadata={"doc": "kind node image to create clusters from"})


@dataclass
class ClusterAccess:
    """A connected cluster: the API client, its context, and the kind node when it is one."""

    api: Any  # kubernetes.client.ApiClient (the package is untyped)
    context: str
    kind: KindCluster | None = None
    work_dir: Path | None = None
    kubeconfig: Path | None = None
    in_cluster: bool = False

    def how_to_reach(self) -> dict[str, str]:
        """What a later process needs to reach this cluster again (`reopen`), for crash clean-up."""
        if self.kind is not None:
            return {"kind_cluster": self.kind.name, "docker_host": os.environ.get("DOCKER_HOST", ""),
                    "kind": kind_cli()}
        if self.in_cluster:
            return {"in_cluster": "true"}
        return {"kubeconfig": str(self.kubeconfig or ""), "context": self.context}

    @property
    def node(self) -> KindNode | None:
        return self.kind.node if self.kind is not None else None

    def close(self) -> None:
        try:
            self.api.close()
        finally:
            if self.kind is not None:
                self.kind.close()


def is_local_kind(context: str, server: str) -> bool:
    """A kind cluster on this machine: context `kind-*` and an API server on loopback."""
    host = urlsplit(server).hostname or ""
    return context.startswith("kind-") and (host.startswith("127.") or host in ("localhost", "::1"))


def check_context(context: str, server: str, allowed: Sequence[str]) -> None:
    """UsageError unless faults may be injected through `context`."""
    if is_local_kind(context, server) or context in allowed:
        return
    raise UsageError(f"context {context!r} (server {server}) is not a local kind cluster; gochaos injects faults "
                     f"there only when named with --allow-context {context}")


def context_server(kubeconfig: Path, context: str | None) -> tuple[str, str]:
    """(context name, API server URL) that `context` (or the current one) of `kubeconfig` points at."""
    try:
        data = yaml.safe_load(kubeconfig.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise UsageError(f"kubeconfig {kubeconfig} is unreadable: {e}") from e
    name = context or data.get("current-context")
    contexts = {c.get("name"): c.get("context", {}) for c in data.get("contexts") or []}
    if not name or name not in contexts:
        known = ", ".join(map(str, contexts)) or "none"
        raise UsageError(f"context {name!r} is not in {kubeconfig}; choose from {known}")
    clusters = {c.get("name"): c.get("cluster", {}) for c in data.get("clusters") or []}
    server = str(clusters.get(contexts[name].get("cluster"), {}).get("server", ""))
    return str(name), server


#: Where a pod finds its ServiceAccount token (the kubelet mounts it; client-go and the Python client look here).
SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
IN_CLUSTER = "in-cluster"


def runs_in_cluster() -> bool:
    """This process is in a pod that may talk to its cluster's API server (service env and token present)."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and SERVICE_ACCOUNT_TOKEN.is_file()


def _in_cluster_client() -> Any:
    # deferred: the kubernetes client (gochaos[kubernetes]) is optional and slow to import
    from kubernetes import client as client_module  # deferred: the kubernetes client is heavy to import
    from kubernetes import config as kube_config_module

    client: Any = client_module  # untyped package
    kube_config: Any = kube_config_module
    configuration = client.Configuration()
    try:
        kube_config.load_incluster_config(client_configuration=configuration)
    except Exception as e:
        raise PlatformError(f"cannot use the pod's ServiceAccount to reach the API server: {e}") from e
    return client.ApiClient(configuration)


def connect(options: KubernetesOptions) -> ClusterAccess:
    """Open the cluster the options name; with none named, the cluster this pod runs in, else a new kind cluster.

    MissingExtra when the official client (gochaos[kubernetes]) is not installed, before a kind cluster is made
    for nothing (the plan refuses such a run earlier; a pytest fixture may come here first)."""
    extras.require("kubernetes", "a Kubernetes cluster is reached with the official client")
    from kubernetes import config as kube_config_module  # deferred: the kubernetes client is heavy to import

    kube_config: Any = kube_config_module  # untyped package

    named = options.kubeconfig is not None or options.context is not None or options.kind_cluster is not None
    if not named and runs_in_cluster():
        return ClusterAccess(api=_in_cluster_client(), context=IN_CLUSTER, in_cluster=True)
    kind: KindCluster | None = None
    if options.kubeconfig is not None or options.context is not None:
        kubeconfig = options.kubeconfig or Path(os.environ.get("KUBECONFIG", Path.home() / ".kube" / "config"))
        context, server = context_server(kubeconfig, options.context)
        check_context(context, server, options.allow_contexts)
        if is_local_kind(context, server):  # a kind cluster named through its kubeconfig: its node is reachable
            kind = _opened(KindCluster(name=context.removeprefix("kind-"), node_image=options.node_image))
    else:
        kind = _opened(KindCluster(name=options.kind_cluster, node_image=options.node_image,
                                   keep=options.keep_cluster))
        assert kind.kubeconfig is not None
        kubeconfig, context = kind.kubeconfig, kind.context
    try:
        api = kube_config.new_client_from_config(config_file=str(kubeconfig), context=context,
                                                 persist_config=False)
    except Exception as e:
        if kind is not None:
            kind.close()
        raise PlatformError(f"cannot load context {context} from {kubeconfig}: {e}") from e
    return ClusterAccess(api=api, context=context, kind=kind, kubeconfig=kubeconfig)


def reopen(reach: dict[str, Any], work_dir: Path) -> Any | None:
    """An API client for a cluster described by `how_to_reach`, or None when the cluster is gone."""
    from kubernetes import config as kube_config_module  # deferred: the kubernetes client is heavy to import

    kube_config: Any = kube_config_module  # untyped package
    if reach.get("in_cluster"):
        return _in_cluster_client() if runs_in_cluster() else None
    if reach.get("kind_cluster"):
        env = {**os.environ, **({"DOCKER_HOST": reach["docker_host"]} if reach.get("docker_host") else {})}
        kind = str(reach.get("kind") or kind_cli())
        name = str(reach["kind_cluster"])
        if name not in run_tool([kind, "get", "clusters"], what="kind get clusters", env=env).split():
            return None
        kubeconfig = work_dir / "kubeconfig"
        kubeconfig.write_text(run_tool([kind, "get", "kubeconfig", "--name", name], what="kind get kubeconfig",
                                       env=env), encoding="utf-8")
        context = f"kind-{name}"
    else:
        kubeconfig, context = Path(str(reach.get("kubeconfig") or "")), str(reach.get("context") or "")
        if not kubeconfig.is_file():
            return None
    return kube_config.new_client_from_config(config_file=str(kubeconfig), context=context, persist_config=False)


def on_recorded_cluster(reach: dict[str, Any], act: Callable[[Any], str]) -> str:
    """`act(api)` on a cluster a dead run recorded (`how_to_reach`), or "cluster gone"; for crash clean-up."""
    work_dir = state.make_temp_dir("gochaos-reclaim-")
    try:
        api = reopen(reach, work_dir)
        if api is None:
            return "cluster gone"
        with api:
            return act(api)
    finally:
        state.remove_temp_dir(work_dir)


def _opened(kind: KindCluster) -> KindCluster:
    """`kind.open()`, deleting whatever a failed or interrupted create left behind."""
    try:
        return kind.open()
    except BaseException:
        kind.close()
        raise
