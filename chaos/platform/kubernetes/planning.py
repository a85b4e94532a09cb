"""The Kubernetes platform at plan time: bundled targets as pods the suite deploys, services already
deployed found by the API, configs from ConfigMaps (or the node's shared directory).

Importing this is cheap: what it needs of the manifests is plain Python, and nothing here reaches a
cluster (the rights a deployed service needs are checked when the run starts).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos.configfiles import API_MODES, FILE_MODES, WriteMode
from chaos.network.links import LinkKind, LinkRequest, Transport
from chaos.platform.kinds import PlatformKind
from chaos.platform.kubernetes.cluster.rights import OPT_IN_LABEL, OPT_IN_VALUE
from chaos.platform.kubernetes.deployed.deployed import needs
from chaos.platform.kubernetes.workloads.manifests import config_map_name, pod_placeholders, pod_refusal
from chaos.targets import ConfigDelivery, TargetSpec

if TYPE_CHECKING:
    from chaos.build import Binaries
    from chaos.platform.base import Platform
    from chaos.timeline import Timeline


class KubernetesKind(PlatformKind):
    name = "kubernetes"
    on_cluster = True

    def open(self, *, timeline: Timeline, binaries: Binaries, run_dir: Path | None, stack: ExitStack, keep: bool,
             kube: Any = None, cluster: Any | Callable[[], Any] | None = None) -> Platform:
        """On `cluster` (a cluster the caller opened for several runs, or a function giving one), else on a
        cluster opened (a kind cluster created) from `kube` for this run alone."""
        # deferred: the kubernetes client is heavy to import
        from chaos.platform.kubernetes.cluster.cluster import KubernetesOptions, connect
        from chaos.platform.kubernetes.platform import KubernetesPlatform

        access = cluster() if callable(cluster) else cluster
        if access is None:
            access = connect(kube or KubernetesOptions())
            stack.callback(access.close)
        platform = KubernetesPlatform(timeline=timeline, cluster=access, binaries=binaries, run_dir=run_dir,
                                      keep=keep)
        stack.callback(platform.close)
        return platform

    def link_refusal(self, request: LinkRequest, spec: TargetSpec | None) -> str | None:
        """A pod the suite deploys gets chaosproxy as a sidecar holding its links, and a service already deployed its
        load link through a chaosproxy pod in front of its Service; etcd's peer traffic and a UDP load are not routed
        here."""
        if request.kind is LinkKind.ETCD_PEER:
            return ("link etcd-peer (traffic between etcd members) is routed on the local platform only; on Kubernetes "
                    "use leader_loss (mode isolate or pause) on the StatefulSet's members, or run with --platform "
                    "local")
        if request.kind is LinkKind.LOAD and request.protocol is Transport.UDP:
            return ("a UDP load link on Kubernetes would need a UDP NodePort, which the kind cluster does not publish; "
                    "give the dns load `protocol: tcp`, or run with --platform local")
        deployed = spec.deployed if spec is not None else None
        if deployed is None:
            return None
        if request.kind is not LinkKind.LOAD:
            return (f"target {spec.name if spec else ''} is a service already deployed, whose pods the suite does not "
                    f"change: its {request.kind} link would need chaosproxy inside them; only its load link is routed "
                    "(through a chaosproxy pod in front of its Service)")
        if deployed.service is None:
            return (f"target {spec.name if spec else ''}: a load link on a service already deployed goes through a "
                    "chaosproxy pod in front of its Service: name it in `deployed.service`")
        return None

    def link_placement(self) -> str:
        return ("chaosproxy in the cluster, started with its links: a native sidecar in the pod of each target the "
                "suite deploys, a pod in front of the Service of a deployed one (its control API on the pod's "
                "loopback, reached through port-forward)")

    def refusal(self, spec: TargetSpec) -> str | None:
        return None if spec.deployed is not None else pod_refusal(spec)

    def write_modes(self, spec: TargetSpec) -> frozenset[WriteMode]:
        """A deployed service's config and a config mounted from a ConfigMap change only through the API; a
        suite pod's config in the node's shared directory takes file writes."""
        if spec.deployed is not None or (spec.config is not None and spec.config.delivery is ConfigDelivery.CONFIGMAP):
            return API_MODES
        return FILE_MODES

    def shown_placeholders(self, spec: TargetSpec) -> dict[str, str]:
        values = pod_placeholders(spec, "<container port>", "<etcd_endpoints>")
        values.update(binary=f"<{spec.binary} image>" if spec.binary else "",
                      etcd_endpoints_spaced="<etcd_endpoints_spaced>")
        return values

    def shown_config_source(self, spec: TargetSpec) -> str:
        if spec.config is not None and spec.config.delivery is ConfigDelivery.CONFIGMAP:
            return f" mounted from ConfigMap {config_map_name(spec)}"
        return " in the node's shared directory"

    def etcd_placement(self) -> str:
        return "as the StatefulSet of manifests/etcd in the run's namespace"

    def shown_deployed(self, spec: TargetSpec) -> list[str]:
        """A deployed service: every object the run reads, changes and restores, and the verbs it checks first."""
        from chaos.platform.kubernetes.cluster.cluster import runs_in_cluster  # these bring the cluster client

        deployed = spec.deployed
        assert deployed is not None
        ns = deployed.namespace
        container = f"container {deployed.container}" if deployed.container else "its only container"
        inside = runs_in_cluster()
        route = "over the pod network (this run is inside the cluster)" if inside else "through port-forward"
        lines = [f"  {spec.name}: deployed {deployed.shown} in namespace {ns}, {container}, port {deployed.port} "
                 f"{route} (nothing is started or deployed)",
                 f"    reads: namespace {ns} (must carry {OPT_IN_LABEL}={OPT_IN_VALUE}), {deployed.workload}, its "
                 "pods and their logs"
                 + (f", {deployed.config.kind} {deployed.config.name}" if deployed.config else "")]
        config = deployed.config
        if config is not None:
            lines.append(f"    changes: {config.kind} {ns}/{config.name} key {config.key} (reload faults); restores: "
                         "that key to what it held when the run started")
        else:
            lines.append("    changes: nothing (no `deployed.config`)")
        if deployed.agent_token_env:
            lines.append(f"    chaosagent: linked into the service, reached on port {deployed.port} with the token in "
                         f"${deployed.agent_token_env}")
        lines.append(f"    kill switch: Lease {ns}/gochaos-run-<run id>, created at the start; deleting it aborts the "
                     "run and reverts every fault")
        if spec.workload_changes:
            lines.append(f"    changes (faults): {deployed.shown}'s " + " and ".join(
                change.shown for change in spec.workload_changes))
        lines.append("    checks first (SelfSubjectAccessReview): " + ", ".join(
            str(need) for need in needs(deployed, spec.workload_changes, port_forward=not inside)))
        return lines

    def external_etcd_refusal(self, targets: tuple[TargetSpec, ...], tls: bool) -> str | None:
        pods = [s.name for s in targets if s.etcd_tls_flags is not None and s.deployed is None]
        if tls and pods:
            return (f"target {pods[0]} would run as a pod the suite deploys, which cannot reach an etcd over TLS yet "
                    "(its TLS files are not mounted); run it with --platform local")
        return None


KUBERNETES = KubernetesKind()
#: This platform, for chaos.platform.factory's table.
KIND = KUBERNETES
