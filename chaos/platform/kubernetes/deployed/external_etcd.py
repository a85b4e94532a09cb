"""The team's own etcd (`etcd.external`) seen from a Kubernetes cluster: TLS from a Secret, the
control-plane etcd refused, and `delete` leader loss through the pods that run it.

Everything here goes through the official client. The Secret's material is written to a private
temp dir (never the run's report dir: a private key must not end up in CI artefacts) and removed
when the run ends. The cluster's own etcd (pods in kube-system labelled component=etcd) is refused
unless the scenario sets `control_plane: true`: an endpoint at one of its addresses, or pods
selected in kube-system with that label. `delete` maps each member to its pod by the pod's IP in
the member's client URLs, else by the pod's name being the member's name (a StatefulSet's).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from chaos import state
from chaos.errors import EtcdError, ExternalEtcdError
from chaos.external_etcd import ExternalEtcd, TlsSecret
from chaos.observe.readiness import wait_until
from chaos.platform.etcd import ClientTls
from chaos.platform.external_etcd import ExternalEtcdCluster, ExternalMember
from chaos.platform.kinds import PlatformKind
from chaos.platform.kubernetes.cluster.namespace import reason
from chaos.platform.kubernetes.planning import KUBERNETES
from chaos.timeline import EventKind, Timeline

CONTROL_PLANE_NS = "kube-system"
CONTROL_PLANE_SELECTOR = "component=etcd"
ETCD_CLIENT_PORT = 2379
#: A deleted member's pod is scheduled, started and caught up by its StatefulSet: bounded generously.
BACK_TIMEOUT_S = 120.0


def control_plane_addresses(pods: list[Any]) -> dict[tuple[str, int], str]:
    """(host, port) -> pod name of every client address of the control-plane etcd pods: their
    --advertise-client-urls and --listen-client-urls, and their pod and host IPs at port 2379."""
    found: dict[tuple[str, int], str] = {}
    for pod in pods:
        name = pod.metadata.name
        for ip in (pod.status.pod_ip, pod.status.host_ip):
            if ip:
                found[(ip, ETCD_CLIENT_PORT)] = name
        for container in pod.spec.containers or []:
            for arg in [*(container.command or []), *(container.args or [])]:
                flag, _, urls = str(arg).partition("=")
                if flag in ("--advertise-client-urls", "--listen-client-urls"):
                    for url in urls.split(","):
                        parts = urlsplit(url.strip())
                        if parts.hostname and parts.port:
                            found[(parts.hostname, parts.port)] = name
    return found


def refuse_control_plane(core: Any, external: ExternalEtcd) -> None:
    """ExternalEtcdError (one line) when `external` is the cluster's own etcd and the scenario did not say so."""
    if external.control_plane:
        return
    if external.pods is not None and external.pods.namespace == CONTROL_PLANE_NS and \
            CONTROL_PLANE_SELECTOR in external.pods.selector.replace(" ", "").split(","):
        raise ExternalEtcdError(f"etcd.external.pods selects the control-plane etcd ({CONTROL_PLANE_NS}, "
                                f"{CONTROL_PLANE_SELECTOR}); gochaos refuses to hurt the cluster's own etcd: point it "
                                "at your etcd's pods, or set etcd.external.control_plane: true if you mean it")
    try:
        pods = core.list_namespaced_pod(CONTROL_PLANE_NS, label_selector=CONTROL_PLANE_SELECTOR).items
    except Exception as e:
        raise ExternalEtcdError(f"cannot tell whether etcd.external is the cluster's own etcd: listing pods in "
                                f"{CONTROL_PLANE_NS} ({CONTROL_PLANE_SELECTOR}) failed ({reason(e)}); grant list on "
                                "pods there, or set etcd.external.control_plane: true if it is meant") from e
    addresses = control_plane_addresses(pods)
    for endpoint in external.endpoints:
        parts = urlsplit(endpoint)
        pod = addresses.get((str(parts.hostname), int(parts.port or 0)))
        if pod is not None:
            raise ExternalEtcdError(f"etcd endpoint {endpoint} is the cluster's own control-plane etcd (pod "
                                    f"{CONTROL_PLANE_NS}/{pod}); gochaos refuses to hurt it: point etcd.external at "
                                    "your etcd, or set etcd.external.control_plane: true if you mean it")


def secret_tls(core: Any, secret: TlsSecret) -> ClientTls:
    """The Secret's CA, client certificate and key as files in a private temp dir; ExternalEtcdError naming
    what is missing (the Secret, a key, the right to read it)."""
    where = f"Secret {secret.namespace}/{secret.name} (etcd.external.tls.secret)"
    try:
        found = core.read_namespaced_secret(secret.name, secret.namespace)
    except Exception as e:
        if getattr(e, "status", None) == 404:
            raise ExternalEtcdError(f"{where} does not exist; create it (keys {secret.ca_key}, {secret.cert_key}, "
                                    f"{secret.key_key}) or fix its namespace and name") from e
        raise ExternalEtcdError(f"cannot read {where}: {reason(e)}; grant get on secrets in {secret.namespace}") from e
    data: dict[str, str] = found.data or {}
    wanted = {"ca_key": secret.ca_key, "cert_key": secret.cert_key, "key_key": secret.key_key}
    for field, key in wanted.items():
        if key not in data:
            raise ExternalEtcdError(f"{where} has no key {key!r} (it has: {', '.join(sorted(data)) or 'none'}); set "
                                    f"etcd.external.tls.secret.{field} to the key that holds it")
    folder = state.make_temp_dir("gochaos-etcd-tls-")
    paths = {}
    for field, key in wanted.items():
        path = folder / field.removesuffix("_key")
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(base64.b64decode(data[key]))
        paths[field] = path
    return ClientTls(paths["ca_key"], paths["cert_key"], paths["key_key"])


class KubeExternalEtcd(ExternalEtcdCluster):
    """The team's etcd on (or reached from) a Kubernetes cluster; `delete` when its pods are named."""

    platform: ClassVar[PlatformKind] = KUBERNETES

    def __init__(self, external: ExternalEtcd, *, core: Any, timeline: Timeline | None, tls: ClientTls | None,
                 tls_dir: Path | None = None) -> None:
        super().__init__(external, timeline=timeline, tls=tls)
        self.core = core
        #: The temp dir holding a Secret's material, removed by `stop`.
        self.tls_dir = tls_dir

    def start(self, timeout_s: float = 15.0) -> None:
        """The shared checks, then each member's pod when the scenario names them."""
        super().start(timeout_s)
        if self.external.pods is not None:
            self._find_pods()

    def stop(self) -> None:
        super().stop()
        if self.tls_dir is not None:
            state.remove_temp_dir(self.tls_dir)

    def _find_pods(self) -> None:
        pods_entry = self.external.pods
        assert pods_entry is not None
        try:
            pods = self.core.list_namespaced_pod(pods_entry.namespace, label_selector=pods_entry.selector).items
        except Exception as e:
            raise ExternalEtcdError(f"cannot list etcd.external.pods ({pods_entry.selector} in "
                                    f"{pods_entry.namespace}): {reason(e)}") from e
        for member in self.members:
            member.pod = pod_of(member, pods)
            if member.pod is None:
                raise ExternalEtcdError(
                    f"etcd member {member.name} ({', '.join(member.advertised) or member.client_url}) matches no pod "
                    f"of {pods_entry.selector} in {pods_entry.namespace} (by pod IP or name); fix etcd.external.pods")

    # -- MemberDeleting ----------------------------------------------------------------------
    def delete(self, member: ExternalMember) -> None:
        """Delete the member's pod at once; its StatefulSet makes it again."""
        assert self.external.pods is not None and member.pod is not None
        try:
            self.core.delete_namespaced_pod(member.pod, self.external.pods.namespace, grace_period_seconds=0)
        except Exception as e:
            raise EtcdError(f"delete pod {self.external.pods.namespace}/{member.pod}: {reason(e)}") from e
        self.timeline.record(EventKind.ETCD_DELETE, member.name, pod=member.pod, external=True)

    def revive(self, member: ExternalMember) -> None:
        """The deleted member is back once it answers at its endpoint again (its workload remade the pod)."""
        if not wait_until(lambda: self.ask_status(member) is not None, timeout_s=BACK_TIMEOUT_S, interval_s=0.1):
            raise EtcdError(f"etcd member {member.name} did not answer at {member.client_url} within "
                            f"{BACK_TIMEOUT_S:g}s after its pod {member.pod} was deleted (an endpoint given by pod IP "
                            "changes with a new pod: list stable names, e.g. the StatefulSet's DNS names)")
        self.timeline.record(EventKind.ETCD_RESTART, member.name, pod=member.pod, external=True)


def pod_of(member: ExternalMember, pods: list[Any]) -> str | None:
    """The pod running `member`: its IP in the member's client URLs (or endpoint), else its name the member's."""
    hosts = {urlsplit(url).hostname for url in (*member.advertised, member.client_url)}
    for pod in pods:
        if pod.status is not None and pod.status.pod_ip and pod.status.pod_ip in hosts:
            return str(pod.metadata.name)
    for pod in pods:
        if pod.metadata.name == member.name:
            return str(pod.metadata.name)
    return None
