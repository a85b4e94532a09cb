"""chaosproxy beside a target the suite deploys, in its pod: the links the plan routes for that target.

On Kubernetes a target's links cannot be made by a process on this host: its etcd traffic, its
upstreams and the load reach it inside the cluster. So its pod gets a second container, chaosproxy
as a native sidecar (an init container with `restartPolicy: Always`: the kubelet starts it before
the target, and it lives as long as the pod), holding (see `chaos.platform.kubernetes.chaosproxy`):

* etcd-client: one link per member on 127.0.0.1 in the pod, the target's {etcd_endpoints} pointing
  at them; the suite, its oracles and leader_loss still reach etcd directly;
* upstream: the host:port the target's command, env or config names, rewritten to a link on
  127.0.0.1 in the pod (TCP or UDP);
* load: a link on the pod's IP, published as a second port of the target's Service (a NodePort
  kind maps to 127.0.0.1), forwarding to the target's own port; the suite's probes keep the first.

Pure: rendered into the manifests, tested without a cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chaos.network.links import (
    LinkKind,
    LinkPlan,
    Transport,
    etcd_client_link,
    load_link,
    route_endpoints,
    upstream_link,
)
from chaos.network.routing import RoutedLink
from chaos.platform.kubernetes.chaosproxy import (
    FIRST_LINK_PORT,
    LOAD_PORT_NAME,
    PROXY_CONTAINER,
    PodLinks,
    proxy_container,
)
from chaos.targets import TargetSpec


def plan_sidecar(plan: LinkPlan, spec: TargetSpec, *, etcd_endpoints: str, members: Sequence[str],
                 container_port: int) -> PodLinks | None:
    """The sidecar's links target `spec` needs for `plan` (None: the plan routes none of its links).

    `etcd_endpoints` are the client URLs as pods reach the members, in the order of `members` (their names).
    """
    name = spec.name
    links: list[RoutedLink] = []

    def add(link_name: str, kind: LinkKind, upstream: str, *, member: str | None = None,
            protocol: str = Transport.TCP, host: str = "127.0.0.1") -> RoutedLink:
        link = RoutedLink(link_name, kind, name, member, str(protocol), f"{host}:{FIRST_LINK_PORT + len(links)}",
                          upstream)
        links.append(link)
        return link

    endpoints = "" if not plan.etcd_client(name) else route_endpoints(
        etcd_endpoints, lambda i, _: members[i] if i < len(members) else f"e{i}",
        lambda member, upstream: add(etcd_client_link(name, member), LinkKind.ETCD_CLIENT, upstream,
                                     member=member).listen)
    for request in plan.upstreams(name):
        upstream = str(request.upstream)
        add(upstream_link(name, upstream, request.protocol), LinkKind.UPSTREAM, upstream, protocol=request.protocol)
    if plan.load(name, None):
        add(load_link(name, None), LinkKind.LOAD, f"127.0.0.1:{container_port}", host="0.0.0.0")
    if not links:
        return None
    return PodLinks(name, tuple(links), endpoints)


def add_sidecar(deployment: dict[str, Any], links: PodLinks, image: str) -> None:
    """Put chaosproxy into the Deployment's pod template as a native sidecar (replacing one already there)."""
    pod = deployment["spec"]["template"]["spec"]
    others = [c for c in pod.get("initContainers", []) if c.get("name") != PROXY_CONTAINER]
    pod["initContainers"] = [{**proxy_container(links, image), "restartPolicy": "Always"}, *others]


def add_load_port(service: dict[str, Any], links: PodLinks, node_port: int) -> None:
    """Publish the load link as a second port of the target's Service, on `node_port`."""
    port = links.load_port
    assert port is not None
    ports = [p for p in service["spec"]["ports"] if p.get("name") != LOAD_PORT_NAME]
    ports.append({"name": LOAD_PORT_NAME, "port": port, "targetPort": port, "nodePort": node_port})
    service["spec"]["ports"] = ports
