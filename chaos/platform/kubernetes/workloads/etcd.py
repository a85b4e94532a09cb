"""A real etcd cluster as a StatefulSet in the run's namespace, and leader loss done to its pods.

The members are the pods `etcd-0..N-1` of manifests/etcd (headless Service for peers and for the
targets, election tuned like the local platform's). This host asks each member for its status
through a NodePort Service of its own, so leadership is found, moved and timed through etcd's API
exactly as on the local platform (`chaos.platform.etcd`). Members keep their data in the
node's shared directory (one dir per pod), so a deleted pod comes back as the same member.

Leader loss on Kubernetes: `kill` SIGKILLs the leader's container through the kind node's
containerd (the kubelet restarts it, with its own back-off), `pause` SIGSTOPs it there, `isolate`
adds DROP rules for the peer port inside the pod's own network namespace (entered from the node;
they vanish with the pod, so a crashed suite leaves nothing on the host), `delete` deletes the
leader's pod (the StatefulSet recreates it). Bringing a killed or deleted member back means
waiting until it answers again.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from chaos.errors import EtcdError, PlatformError
from chaos.observe.readiness import wait_until
from chaos.platform.base import Endpoint
from chaos.platform.etcd import EtcdLeadership, check_shape
from chaos.platform.kinds import PlatformKind
from chaos.platform.kubernetes.cluster.manifest_files import load_kustomization, manifests_dir
from chaos.platform.kubernetes.cluster.namespace import reason
from chaos.platform.kubernetes.cluster.run_space import RunSpace
from chaos.platform.kubernetes.planning import KUBERNETES
from chaos.platform.kubernetes.workloads import manifests as m
from chaos.timeline import EventKind

if TYPE_CHECKING:
    from chaos.platform.kubernetes.cluster.kind import KindNode

#: DROP rules (chain + match) that cut a member from its peers and them from it: etcd's peer port,
#: as destination and source, in and out (peer streams are long-lived connections both ways).
_PEER_RULES = [[chain, "-p", "tcp", direction, str(m.ETCD_PEER_PORT)]
               for chain in ("INPUT", "OUTPUT") for direction in ("--dport", "--sport")]
START_TIMEOUT_S = 120.0  # image unpacking, DNS for the peers, the first election
#: A killed container waits out the kubelet's restart back-off (10 s, doubling) before it answers.
BACK_TIMEOUT_S = 90.0
#: The user the FROM-scratch images run as (go_targets/Dockerfile); it owns the data dirs.
IMAGE_UID = 65532


@dataclass
class KubeEtcdMember:
    """One etcd pod, reached from this host through its NodePort."""

    name: str
    endpoint: Endpoint
    member_id: int | None = None
    paused: bool = False
    #: The pod process whose network namespace holds the isolation rules (None: not isolated).
    isolated_pid: int | None = None

    @property
    def client_url(self) -> str:
        return self.endpoint.url

    @property
    def running(self) -> bool:
        # Kubernetes brings a killed or deleted member back by itself, often before the others
        # elect a leader (and it may win that election): never assume it is down, ask it.
        return True

    @property
    def isolated(self) -> bool:
        return self.isolated_pid is not None


class KubeEtcdCluster(EtcdLeadership[KubeEtcdMember]):
    """N etcd pods of the run's StatefulSet; `start()` waits for all of them and a leader."""

    platform: ClassVar[PlatformKind] = KUBERNETES

    def __init__(self, space: RunSpace, *, size: int = 3, heartbeat_ms: int = 50,
                 election_ms: int = 500) -> None:
        check_shape(size, heartbeat_ms, election_ms)
        self.space = space
        self.size, self.heartbeat_ms, self.election_ms = size, heartbeat_ms, election_ms
        super().__init__(space.timeline,
                         f"the pods' logs (kubectl -n {space.namespace} logs {m.ETCD_NAME}-0 [--previous])")

    @property
    def endpoints(self) -> str:
        return m.etcd_client_urls(self.size)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        space = self.space
        if space.cluster.node is None:
            raise PlatformError("etcd on a cluster other than a local kind cluster needs port-forward, which is not "
                                "supported yet; use a kind cluster")
        ports = space.pick_node_ports(self.size)
        host_dir, node_dir = space.node_dir(m.ETCD_NAME)
        try:
            for name in m.etcd_member_names(self.size):  # etcd wants its data dir private to its user
                member_dir = host_dir / name
                member_dir.mkdir(mode=0o700, exist_ok=True)
                os.chown(member_dir, IMAGE_UID, IMAGE_UID)
        except OSError as e:
            raise PlatformError(f"cannot prepare etcd's data dirs in {host_dir} for uid {IMAGE_UID} "
                                f"({e.strerror or e}); run as root (the pods run as that user)") from e
        placement = m.EtcdPlacement(namespace=space.namespace, run_id=space.run_id, image=space.image("etcd"),
                                    size=self.size, heartbeat_ms=self.heartbeat_ms, election_ms=self.election_ms,
                                    node_ports=[port for port, _ in ports], data_host_dir=node_dir)
        self.members = [KubeEtcdMember(name, endpoint)
                        for name, (_, endpoint) in zip(m.etcd_member_names(self.size), ports, strict=True)]
        space.ns.apply(m.render_etcd(load_kustomization(manifests_dir() / "etcd"), placement))
        self.timeline.record(EventKind.ETCD_START, "etcd", members=[mb.name for mb in self.members],
                             namespace=space.namespace)
        self.await_serving(timeout_s, why_not=lambda member: self._pod_story(member.name))

    def stop(self) -> None:
        """Resume and heal members and delete the StatefulSet (the namespace goes with the platform)."""
        for member in self.members:
            self.heal(member)
            if member.paused:
                self.resume(member)
        self.space.ns.delete_object(self.space.apps.delete_namespaced_stateful_set, m.ETCD_NAME)
        self.close_session()

    # -- member operations -------------------------------------------------------------------
    def kill(self, member: KubeEtcdMember) -> None:
        """SIGKILL the member's container (the kubelet restarts it in the same pod)."""
        self.signal_member(member, signal.SIGKILL)
        self.timeline.record(EventKind.ETCD_KILL, member.name)

    def delete(self, member: KubeEtcdMember) -> None:
        """Delete the member's pod at once; the StatefulSet makes it again, on the same data."""
        try:
            self.space.core.delete_namespaced_pod(member.name, self.space.namespace, grace_period_seconds=0)
        except Exception as e:
            raise EtcdError(f"delete pod {member.name}: {reason(e)}") from e
        self.timeline.record(EventKind.ETCD_DELETE, member.name)

    def await_back(self, member: KubeEtcdMember, timeout_s: float = BACK_TIMEOUT_S) -> None:
        """Wait until a killed or deleted member answers again (Kubernetes brings it back)."""
        if not wait_until(lambda: self.ask_status(member) is not None, timeout_s=timeout_s, interval_s=0.05):
            raise EtcdError(f"etcd member {member.name} did not come back within {timeout_s:g}s: "
                            f"{self._pod_story(member.name)}")
        self.timeline.record(EventKind.ETCD_RESTART, member.name)

    def isolate(self, member: KubeEtcdMember) -> None:
        """Cut the member's peer traffic both ways, inside its pod's network namespace."""
        if member.isolated_pid is not None:
            return
        node = self._node(member, "isolate")
        pid = node.container_pid(self._container_id(member.name))
        member.isolated_pid = pid
        for rule in _PEER_RULES:
            node.exec("/usr/bin/nsenter", "-t", str(pid), "-n", "iptables", "-A", *rule, "-j", "DROP",
                      what=f"isolate {member.name}")
        self.timeline.record(EventKind.ETCD_ISOLATE, member.name)

    def heal(self, member: KubeEtcdMember) -> None:
        pid, member.isolated_pid = member.isolated_pid, None
        if pid is None:
            return
        node = self._node(member, "heal")
        for rule in _PEER_RULES:
            try:
                node.exec("/usr/bin/nsenter", "-t", str(pid), "-n", "iptables", "-D", *rule, "-j", "DROP",
                          what=f"heal {member.name}")
            except PlatformError:
                break  # the pod (and its network namespace with the rules) is gone
        self.timeline.record(EventKind.ETCD_HEAL, member.name)

    def revive(self, member: KubeEtcdMember) -> None:
        """A killed or deleted member is back once it answers (`MemberKilling`, `MemberDeleting`)."""
        self.await_back(member)

    # -- internals ---------------------------------------------------------------------------
    def signal_member(self, member: KubeEtcdMember, sig: signal.Signals) -> None:
        self._node(member, f"sending {sig.name}").signal_container(self._container_id(member.name), sig)

    def _node(self, member: KubeEtcdMember, doing: str) -> KindNode:
        node = self.space.cluster.node
        if node is None:
            raise EtcdError(f"{doing} to {member.name} needs a kind node; use mode delete or move here")
        return node

    def _container_id(self, pod_name: str) -> str:
        pod = self._pod(pod_name)
        for status in (pod.status.container_statuses or []) if pod is not None else []:
            if status.name == m.ETCD_NAME and status.container_id and status.state and status.state.running:
                return str(status.container_id).partition("://")[2] or str(status.container_id)
        raise EtcdError(f"etcd member {pod_name} has no running container: {self._pod_story(pod_name)}")

    def _pod(self, name: str) -> Any:
        try:
            return self.space.core.read_namespaced_pod(name, self.space.namespace)
        except Exception as e:
            if getattr(e, "status", None) == 404:
                return None
            raise EtcdError(f"read pod {name}: {reason(e)}") from e

    def _pod_story(self, name: str) -> str:
        """One line: the pod's phase, its container's state and restarts, the last warning events."""
        pod = self._pod(name)
        if pod is None:
            return f"pod {name} does not exist"
        said = [f"pod {name} {pod.status.phase}"]
        for cs in pod.status.container_statuses or []:
            state = cs.state.waiting or cs.state.terminated if cs.state else None
            said.append(f"{cs.name}: {getattr(state, 'reason', None) or 'running'}, restarts {cs.restart_count}")
        events = self.space.core.list_namespaced_event(self.space.namespace,
                                                      field_selector=f"involvedObject.name={name}").items
        said += [f"{e.reason}: {e.message}" for e in events if e.type == "Warning"][-2:]
        return "; ".join(said) + f"; see {self.where}"
