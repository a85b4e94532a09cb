"""The team's etcd on Kubernetes, the parts that read pods: the control-plane etcd's addresses (what
is refused unless named) and each member's pod (what `delete` deletes), from real client objects."""

from __future__ import annotations

from kubernetes.client import V1Container, V1ObjectMeta, V1Pod, V1PodSpec, V1PodStatus

from chaos.platform.external_etcd import ExternalMember
from chaos.platform.kubernetes.deployed.external_etcd import control_plane_addresses, pod_of


def pod(name: str, ip: str | None, *, host_ip: str | None = None, command: list[str] | None = None) -> V1Pod:
    return V1Pod(metadata=V1ObjectMeta(name=name),
                 spec=V1PodSpec(containers=[V1Container(name="etcd", command=command)]),
                 status=V1PodStatus(pod_ip=ip, host_ip=host_ip))


def test_the_control_plane_etcd_is_known_by_its_urls_and_its_node_address() -> None:
    kubeadm = pod("etcd-kind-control-plane", "172.18.0.2", host_ip="172.18.0.2", command=[
        "etcd", "--advertise-client-urls=https://172.18.0.2:2379",
        "--listen-client-urls=https://127.0.0.1:2379,https://172.18.0.2:2379", "--data-dir=/var/lib/etcd"])
    found = control_plane_addresses([kubeadm])
    assert found == {("172.18.0.2", 2379): "etcd-kind-control-plane", ("127.0.0.1", 2379): "etcd-kind-control-plane"}
    assert ("172.18.0.2", 12379) not in found, "another port of the node is another service"


def test_a_member_is_found_by_pod_ip_else_by_name() -> None:
    pods = [pod("etcd-0", "10.244.0.5"), pod("etcd-1", "10.244.0.6"), pod("etcd-2", None)]
    by_ip = ExternalMember("m-a", "https://10.244.0.6:2379")
    advertised = ExternalMember("m-b", "https://etcd.db.svc:2379", advertised=("https://10.244.0.5:2379",))
    by_name = ExternalMember("etcd-2", "https://etcd-2.etcd.db.svc:2379")
    stranger = ExternalMember("other", "https://10.0.0.9:2379")
    assert [pod_of(m, pods) for m in (by_ip, advertised, by_name, stranger)] == ["etcd-1", "etcd-0", "etcd-2", None]
