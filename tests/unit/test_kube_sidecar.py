"""chaosproxy on Kubernetes: a target's sidecar (its links, the target's addresses through them, the pod and Service
it is rendered into) and a deployed service's front proxy pod (no cluster needed; tests/e2e/test_kube_network.py and
tests/e2e/test_deployed_service.py run both on a real kind cluster)."""

from __future__ import annotations

import pytest

from chaos.network.links import LinkKind, LinkPlan, LinkRequest, Transport
from chaos.platform.kubernetes.chaosproxy import CONTROL_PORT, LOAD_PORT_NAME, PROXY_CONTAINER
from chaos.platform.kubernetes.cluster import manifest_files as mf
from chaos.platform.kubernetes.deployed.front_proxy import front_links, pod_name, render_pod
from chaos.platform.kubernetes.workloads import manifests as m
from chaos.platform.kubernetes.workloads.sidecar import add_load_port, add_sidecar, plan_sidecar
from chaos.targets import TargetSpec, bundled

ENDPOINTS = m.etcd_client_urls(3)
MEMBERS = m.etcd_member_names(3)


def _kvd(**fields: object) -> TargetSpec:
    spec = bundled("kvd", ctx_mode="isolated")
    return spec.model_copy(update=fields) if fields else spec


def test_a_target_without_planned_links_gets_no_sidecar() -> None:
    plan = LinkPlan.of([LinkRequest(LinkKind.ETCD_CLIENT, "other")])
    assert plan_sidecar(plan, _kvd(), etcd_endpoints=ENDPOINTS, members=MEMBERS, container_port=8081) is None


def test_each_member_is_a_link_on_the_pods_loopback_and_the_load_one_on_its_ip() -> None:
    plan = LinkPlan.of([LinkRequest(LinkKind.ETCD_CLIENT, "kvd"), LinkRequest(LinkKind.LOAD, "kvd")])
    sidecar = plan_sidecar(plan, _kvd(), etcd_endpoints=ENDPOINTS, members=MEMBERS, container_port=8081)
    assert sidecar is not None
    assert [(link.name, link.member, link.listen, link.upstream) for link in sidecar.links] == [
        ("etcd-client.kvd.etcd-0", "etcd-0", "127.0.0.1:15000", "etcd-0.etcd:2379"),
        ("etcd-client.kvd.etcd-1", "etcd-1", "127.0.0.1:15001", "etcd-1.etcd:2379"),
        ("etcd-client.kvd.etcd-2", "etcd-2", "127.0.0.1:15002", "etcd-2.etcd:2379"),
        ("load.kvd", None, "0.0.0.0:15003", "127.0.0.1:8081"),
    ]
    assert not any(link.probe for link in sidecar.links)  # timed through a port-forward once the pod runs
    assert [link.name for link in sidecar.probed()] == [f"etcd-client.kvd.etcd-{i}" for i in range(3)]
    assert sidecar.etcd_endpoints == "http://127.0.0.1:15000,http://127.0.0.1:15001,http://127.0.0.1:15002"
    assert sidecar.load_port == 15003
    assert sidecar.args() == ["--control", f"127.0.0.1:{CONTROL_PORT}",
                              "--link=etcd-client.kvd.etcd-0,tcp,127.0.0.1:15000,etcd-0.etcd:2379",
                              "--link=etcd-client.kvd.etcd-1,tcp,127.0.0.1:15001,etcd-1.etcd:2379",
                              "--link=etcd-client.kvd.etcd-2,tcp,127.0.0.1:15002,etcd-2.etcd:2379",
                              "--link=load.kvd,tcp,0.0.0.0:15003,127.0.0.1:8081"]


def test_an_upstream_is_rewritten_where_the_target_names_it() -> None:
    spec = _kvd(command=[*_kvd().command, "--audit=audit.default:9000"], env={"AUDIT": "audit.default:9000"})
    plan = LinkPlan.of([LinkRequest(LinkKind.UPSTREAM, "kvd", upstream="audit.default:9000",
                                    protocol=Transport.UDP)])
    sidecar = plan_sidecar(plan, spec, etcd_endpoints=ENDPOINTS, members=MEMBERS, container_port=8081)
    assert sidecar is not None and sidecar.etcd_endpoints == ""
    [link] = sidecar.links
    assert (link.kind, link.protocol, link.listen) == (LinkKind.UPSTREAM, "udp", "127.0.0.1:15000")
    routed = sidecar.rewritten(spec)
    assert routed.command[-1] == "--audit=127.0.0.1:15000" and routed.env == {"AUDIT": "127.0.0.1:15000"}
    assert spec.command[-1] == "--audit=audit.default:9000"  # the spec given is left as it was


@pytest.mark.parametrize("load", [True, False])
def test_the_sidecar_starts_before_the_target_and_the_service_publishes_the_load_link(load: bool) -> None:
    requests = [LinkRequest(LinkKind.ETCD_CLIENT, "kvd")] + ([LinkRequest(LinkKind.LOAD, "kvd")] if load else [])
    sidecar = plan_sidecar(LinkPlan.of(requests), _kvd(), etcd_endpoints=ENDPOINTS, members=MEMBERS,
                           container_port=8081)
    assert sidecar is not None
    docs = mf.load_kustomization(mf.manifests_dir() / "targets" / "kvd")
    placement = m.TargetPlacement(namespace="gochaos-ab12", run_id="ab12", image="gochaos/kvd:1", node_port=30081,
                                  env={}, etcd_endpoints=sidecar.etcd_endpoints)
    rendered = {doc["kind"]: doc for doc in m.render_target(docs, _kvd(), placement)}
    add_sidecar(rendered["Deployment"], sidecar, "gochaos/chaosproxy:1")
    add_sidecar(rendered["Deployment"], sidecar, "gochaos/chaosproxy:1")  # once, however often it is added
    if load:
        add_load_port(rendered["Service"], sidecar, 30085)
    pod = rendered["Deployment"]["spec"]["template"]["spec"]
    [proxy] = pod["initContainers"]
    assert proxy["name"] == PROXY_CONTAINER and proxy["restartPolicy"] == "Always"  # a native sidecar
    assert proxy["image"] == "gochaos/chaosproxy:1" and proxy["args"] == sidecar.args()
    assert [c["name"] for c in pod["containers"]] == [m.CONTAINER]
    assert "--endpoints=http://127.0.0.1:15000,http://127.0.0.1:15001,http://127.0.0.1:15002" in \
        pod["containers"][0]["args"]
    ports = rendered["Service"]["spec"]["ports"]
    if load:
        assert ports[-1] == {"name": LOAD_PORT_NAME, "port": 15003, "targetPort": 15003, "nodePort": 30085}
        assert proxy["ports"] == [{"name": LOAD_PORT_NAME, "containerPort": 15003}]
    else:
        assert [p["nodePort"] for p in ports] == [30081] and "ports" not in proxy


def test_a_deployed_services_front_proxy_is_one_bounded_unprivileged_pod_forwarding_to_its_service() -> None:
    links = front_links("web", "http://web.shop.svc:80")
    [link] = links.links
    assert (link.name, link.kind, link.listen, link.upstream) == ("load.web", LinkKind.LOAD, "0.0.0.0:15000",
                                                                  "web.shop.svc:80")
    pod = render_pod(pod_name("web", "ab12"), "shop", "ab12", links, "gochaos/chaosproxy:1")
    assert pod["metadata"]["name"] == "chaosproxy-web-ab12" and pod["metadata"]["namespace"] == "shop"
    assert pod["metadata"]["labels"]["gochaos.io/run"] == "ab12"
    spec = pod["spec"]
    assert spec["activeDeadlineSeconds"] > 0 and spec["automountServiceAccountToken"] is False
    [container] = spec["containers"]
    assert container["args"] == ["--control", f"127.0.0.1:{CONTROL_PORT}",
                                 "--link=load.web,tcp,0.0.0.0:15000,web.shop.svc:80"]
    assert container["securityContext"]["runAsNonRoot"] and container["securityContext"]["capabilities"] == {
        "drop": ["ALL"]}
    assert len(pod_name("a" * 60, "ab12")) <= 63
