"""A run's place in a cluster: its namespace, the API clients, the images it loaded, its node resources.

The platform, the etcd StatefulSet, the hog pod and the in-place resize all work inside the same
run namespace with the same clients; they share this object instead of reaching into the platform,
so each of them depends only on what it uses and none imports the platform.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from chaos import state
from chaos.build import Binaries
from chaos.errors import PlatformError
from chaos.platform.base import Endpoint
from chaos.platform.kubernetes.cluster.cluster import ClusterAccess
from chaos.platform.kubernetes.cluster.images import ensure_image, load_into_kind
from chaos.platform.kubernetes.cluster.namespace import RunNamespace
from chaos.timeline import Timeline


class RunSpace:
    """The run's namespace in `cluster` (created on first use) and what the run holds there."""

    def __init__(self, *, cluster: ClusterAccess, binaries: Binaries, timeline: Timeline, run_dir: Path) -> None:
        from kubernetes import client as client_module  # deferred: the kubernetes client is heavy to import

        client: Any = client_module  # the package's types are partial; its objects are used as Any here
        self.cluster = cluster
        self.binaries = binaries
        self.timeline = timeline
        self.run_id = secrets.token_hex(4)
        self.ns = RunNamespace(cluster.api, run_id=self.run_id, discovery_cache=run_dir / ".kube-discovery.json",
                               reach=cluster.how_to_reach())
        self.namespace = self.ns.name
        self.core: Any = client.CoreV1Api(cluster.api)
        self.apps: Any = client.AppsV1Api(cluster.api)
        self._images: dict[str, str] = {}
        self._shared: tuple[Path, str] | None = None
        self._ports_taken: set[int] = set()  # handed out in this run (its Service may not exist yet)

    def image(self, name: str, *, race: bool = False) -> str:
        """The image of bundled binary `name`, built and loaded into the kind node once per run."""
        key = f"{name}+race" if race else name
        if key not in self._images:
            node, kind = self.cluster.node, self.cluster.kind
            assert node is not None and kind is not None
            tag = ensure_image(node.docker, self.binaries, name, race=race)
            load_into_kind(tag, kind.name)
            self._images[key] = tag
        return self._images[key]

    def node_dir(self, name: str) -> tuple[Path, str]:
        """(host path, node path) of directory `name` of this run in the node's shared directory."""
        node = self.cluster.node
        assert node is not None
        if self._shared is None:
            self._shared = node.shared_dir()
        host_root, node_root = self._shared
        folder = host_root / self.namespace / name
        state.hold("dir", str(host_root / self.namespace), f"config dir {host_root / self.namespace}")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (host_root / self.namespace).chmod(0o755)
        except OSError as e:
            raise unwritable("cannot create", folder, e) from e
        return folder, f"{node_root}/{self.namespace}/{name}"

    def pick_node_ports(self, count: int) -> list[tuple[int, Endpoint]]:
        """`count` published node ports no Service in the cluster uses yet, and where this host reaches them."""
        node = self.cluster.node
        assert node is not None
        published = node.published_ports()
        used = {port.node_port for svc in self.core.list_service_for_all_namespaces().items
                for port in (svc.spec.ports or []) if port.node_port}
        used |= self._ports_taken
        free = [(node_port, Endpoint(host, host_port)) for node_port, (host, host_port) in sorted(published.items())
                if 30000 <= node_port <= 32767 and node_port not in used]
        if len(free) >= count:
            self._ports_taken |= {node_port for node_port, _ in free[:count]}
            return free[:count]
        raise PlatformError(f"all node ports kind publishes on 127.0.0.1 are in use ({sorted(published)}); stop other "
                            "runs on this cluster or map more ports with extraPortMappings")

    def release(self) -> None:
        """Delete the namespace (bounded wait) and this run's part of the node's shared directory."""
        try:
            self.ns.delete()
        finally:
            if self._shared is not None:
                state.remove_temp_dir(self._shared[0] / self.namespace)


def unwritable(doing: str, folder: Path, error: OSError) -> PlatformError:
    return PlatformError(f"{doing} {folder} in the node's shared directory ({error.strerror or error}); run as a "
                         "user who can write Docker's volumes, or add an extraMount at /var/lib/gochaos to the kind "
                         "config")
