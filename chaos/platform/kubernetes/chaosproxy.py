"""chaosproxy in a pod, whoever put it there: the links it is started with, its container, and the run's way to it.

Two routes put chaosproxy on a cluster: a native sidecar in the pod of a target the suite deploys
(`workloads.sidecar`), and for a service already deployed, a pod of its own in front of the
service's Service (`deployed.front_proxy`). Either way the proxy is started with every link as a
`--link` flag, so each listens before anything dials it, and its control API listens on the pod's
loopback only: nothing else in the cluster can put a fault on a link. The run reaches that API, and
the links it times requests through, by port-forward (`open_pod_proxy`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from chaos.errors import PlatformError
from chaos.network.links import LinkKind, rewrite
from chaos.network.proxy import ProxyClient
from chaos.network.routing import RoutedLink
from chaos.platform.kubernetes.cluster.tunnel import Tunnel
from chaos.targets import TargetSpec

#: The proxy's container name, in a target's pod or in a pod of its own.
PROXY_CONTAINER = "chaosproxy"
#: Where its control API listens inside the pod (loopback: reached by port-forward only).
CONTROL_PORT = 15999
#: The first port of the links inside the pod; each link takes the next.
FIRST_LINK_PORT = 15000
#: The name of the port that carries the load link (a Service port, the container's port).
LOAD_PORT_NAME = "chaos-load"


@dataclass(frozen=True, slots=True)
class PodLinks:
    """The links one pod's chaosproxy holds for a target, and how the target's own addresses change to cross them."""

    target: str
    links: tuple[RoutedLink, ...]
    #: The target's {etcd_endpoints} as its pod gets them (each URL a link), or "" without an etcd-client link.
    etcd_endpoints: str = ""

    @property
    def load(self) -> RoutedLink | None:
        return next((link for link in self.links if link.kind is LinkKind.LOAD), None)

    @property
    def load_port(self) -> int | None:
        """The pod port the load link listens on."""
        load = self.load
        return None if load is None else port_of(load)

    def args(self) -> list[str]:
        """chaosproxy's command line: the control API on loopback, then every link."""
        return ["--control", f"127.0.0.1:{CONTROL_PORT}",
                *(f"--link={link.name},{link.protocol},{link.listen},{link.upstream}" for link in self.links)]

    def probed(self) -> list[RoutedLink]:
        """The links whose requests the suite times itself through a port-forward: etcd's (GET /version)."""
        return [link for link in self.links if link.kind is LinkKind.ETCD_CLIENT]

    def rewritten(self, spec: TargetSpec) -> TargetSpec:
        """`spec` with each upstream it names (argv words, env values, config) its link's address in the pod."""
        upstreams = [link for link in self.links if link.kind is LinkKind.UPSTREAM]
        if not upstreams:
            return spec

        def routed(text: str) -> str:
            for link in upstreams:
                text = rewrite(text, link.upstream, link.listen)
            return text

        update: dict[str, Any] = {"command": [routed(word) for word in spec.command],
                                  "env": {key: routed(value) for key, value in spec.env.items()}}
        if spec.config is not None:
            update["config"] = spec.config.model_copy(update={"initial": routed(spec.config.initial)})
        return spec.model_copy(update=update)


def port_of(link: RoutedLink) -> int:
    """The port a link listens on in its pod."""
    return int(link.listen.rpartition(":")[2])


def proxy_container(links: PodLinks, image: str) -> dict[str, Any]:
    """The chaosproxy container holding `links`: small, unprivileged, read-only."""
    container: dict[str, Any] = {
        "name": PROXY_CONTAINER, "image": image, "imagePullPolicy": "Never", "args": links.args(),
        "resources": {"requests": {"cpu": "20m", "memory": "16Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "runAsUser": 65532, "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
    }
    if links.load_port is not None:
        container["ports"] = [{"name": LOAD_PORT_NAME, "containerPort": links.load_port}]
    return container


class PodProxy:
    """A pod's chaosproxy as the run drives it: its control API through `control` (a port-forward to whichever pod
    holds it now, so a replaced pod's new proxy answers next), and the port-forwards to its links the suite times
    requests through (`probes`)."""

    pid = None  # it runs in the pod's PID namespace, not as a process of this host

    def __init__(self, control: Tunnel, probes: Mapping[str, Tunnel] | None = None) -> None:
        self.control = control
        self.probes = dict(probes or {})
        self._client = ProxyClient(f"http://{control.endpoint.host}:{control.endpoint.port}")

    @property
    def client(self) -> ProxyClient:
        return self._client

    @property
    def running(self) -> bool:
        return self._client.healthy()

    def probed(self, link: RoutedLink) -> RoutedLink:
        """`link` with the address this host times requests through it at (its port-forward), when it has one."""
        tunnel = self.probes.get(link.name)
        return link if tunnel is None else replace(link, probe=f"{tunnel.endpoint.host}:{tunnel.endpoint.port}")

    def stop(self) -> None:
        """Close the ways to it (the proxy goes with its pod)."""
        self._client.close()
        for tunnel in [self.control, *self.probes.values()]:
            tunnel.close()


def open_pod_proxy(links: PodLinks, forward: Callable[[int, str], Tunnel], logs: str) -> PodProxy:
    """Reach a running pod's chaosproxy (its control API and its probed links, each through `forward(port, name)`)
    and check it holds every link; PlatformError naming `logs` (where its log is) when not."""
    proxy = PodProxy(forward(CONTROL_PORT, f"{links.target}-chaosproxy"),
                     {link.name: forward(port_of(link), link.name) for link in links.probed()})
    try:
        held = {link.name for link in proxy.client.links()}
    except Exception as e:
        proxy.stop()
        raise PlatformError(f"target {links.target}: its chaosproxy does not answer through port-forward ({e}); see "
                            f"its log: {logs}") from e
    missing = sorted({link.name for link in links.links} - held)
    if missing:
        proxy.stop()
        raise PlatformError(f"target {links.target}: its chaosproxy holds no link {', '.join(missing)}; see its log: "
                            f"{logs}")
    return proxy
