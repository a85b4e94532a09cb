"""An ephemeral kind cluster for a run (or a named one reused), and what the suite does on its node.

`KindCluster` creates a cluster from manifests/kind/cluster.yaml under a unique name
(`gochaos-<hex>`), writes a private kubeconfig (the user's ~/.kube/config is never touched), and
deletes the cluster at the end unless it is kept or was reused. A missing Docker CLI or engine, a
missing kind, or a missing node image is explained in one line before anything is created.

`KindNode` is the node container seen from this host: which node ports are published on
127.0.0.1, a host directory the pods can mount (so config writes reach a pod as fast as a local
file), and signals to a container's process through the node's containerd (`ctr`).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chaos import state
from chaos.errors import PlatformError
from chaos.platform.kubernetes.cluster.manifest_files import manifests_dir

#: Directory inside the node that pods mount as hostPath for their config files.
NODE_DIR = "/var/lib/gochaos"
CREATE_TIMEOUT_S = 300.0
DELETE_TIMEOUT_S = 120.0
CMD_TIMEOUT_S = 60.0


def _tool(env_var: str, name: str, install: str) -> str:
    found = os.environ.get(env_var) or shutil.which(name)
    if not found or not os.access(found, os.X_OK):
        raise PlatformError(f"{name} not found (set {env_var} or put it on PATH): {install}")
    return found


def docker_cli() -> str:
    return _tool("GOCHAOS_DOCKER", "docker", "install the Docker CLI (apt-get install docker.io)")


def kind_cli() -> str:
    return _tool("GOCHAOS_KIND", "kind", "install kind (`go install sigs.k8s.io/kind@v0.30.0`)")


def run_tool(argv: Sequence[str], *, what: str, timeout_s: float = CMD_TIMEOUT_S,
             env: Mapping[str, str] | None = None) -> str:
    """Run a docker/kind command; PlatformError with the tail of its stderr when it fails."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout_s, check=False,
                              env=dict(env) if env is not None else None)
    except subprocess.TimeoutExpired as e:
        raise PlatformError(f"{what}: `{' '.join(argv[:3])} ...` took longer than {timeout_s:g}s") from e
    except OSError as e:
        raise PlatformError(f"{what}: cannot run {argv[0]}: {e.strerror or e}") from e
    if done.returncode != 0:
        said = done.stderr.strip() or done.stdout.strip()
        tail = " | ".join(said.splitlines()[-4:]) or f"exit status {done.returncode}"
        raise PlatformError(f"{what} failed: {tail}")
    return done.stdout


def check_docker(env: Mapping[str, str] | None = None) -> str:
    """The Docker CLI path, once an engine answered; one-line PlatformError otherwise."""
    docker = docker_cli()
    host = (os.environ if env is None else env).get("DOCKER_HOST", "the default socket")
    try:
        run_tool([docker, "version", "--format", "{{.Server.Version}}"], what="docker version", timeout_s=15,
                 env=env)
    except PlatformError as e:
        raise PlatformError(f"no Docker engine answers at {host}: start dockerd or point DOCKER_HOST at "
                            f"one ({e})") from e
    return docker


def image_present(docker: str, image: str, env: Mapping[str, str] | None = None) -> bool:
    done = subprocess.run([docker, "image", "inspect", image], capture_output=True, timeout=CMD_TIMEOUT_S,
                          check=False, env=dict(env) if env is not None else None)
    return done.returncode == 0


def default_config() -> Path:
    return manifests_dir() / "kind" / "cluster.yaml"


class KindCluster:
    """A kind cluster the run uses: created here (and deleted in `close`) or reused by name.

    kind is `kind_binary` (default: $GOCHAOS_KIND, else on PATH) and talks to the Docker engine at
    `docker_host` (default: $DOCKER_HOST, else the default socket). With `logs_dir`, a failed create
    keeps the nodes until `close` and exports their logs there first.
    """

    def __init__(self, *, name: str | None = None, node_image: str | None = None,
                 config: Path | None = None, keep: bool = False, kind_binary: str | None = None,
                 docker_host: str | None = None, logs_dir: Path | None = None) -> None:
        self.reused = name is not None
        self.name = name or f"gochaos-{secrets.token_hex(4)}"
        self.node_image = node_image or os.environ.get("GOCHAOS_KIND_NODE_IMAGE") or None
        self.config = config
        self.keep = keep
        self.kind_binary = kind_binary
        self.docker_host = docker_host
        self.logs_dir = logs_dir
        self._dir: Path | None = None
        self._created = False
        self.kubeconfig: Path | None = None
        self.node: KindNode | None = None

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    @property
    def _env(self) -> dict[str, str] | None:
        return {**os.environ, "DOCKER_HOST": self.docker_host} if self.docker_host else None

    def _kind(self) -> str:
        return self.kind_binary or kind_cli()

    def open(self) -> KindCluster:
        """Create (or find) the cluster and write its private kubeconfig; errors name what is missing."""
        docker = check_docker(self._env)
        kind = self._kind()
        self._dir = state.make_temp_dir("gochaos-kind-")
        self.kubeconfig = self._dir / "kubeconfig"
        existing = run_tool([kind, "get", "clusters"], what="kind get clusters", env=self._env).split()
        if self.reused:
            if self.name not in existing:
                raise PlatformError(f"no kind cluster named {self.name!r} (found: {', '.join(existing) or 'none'}); "
                                    "drop --kind-cluster to create one")
            self.kubeconfig.write_text(run_tool([kind, "get", "kubeconfig", "--name", self.name],
                                                what="kind get kubeconfig", env=self._env), encoding="utf-8")
        else:
            self._create(docker, kind)
        nodes = run_tool([kind, "get", "nodes", "--name", self.name], what="kind get nodes", env=self._env).split()
        control = next((n for n in nodes if n.endswith("-control-plane")), nodes[0] if nodes else None)
        if control is None:
            raise PlatformError(f"kind cluster {self.name} has no nodes; delete it (`kind delete cluster "
                                f"--name {self.name}`) and run again")
        self.node = KindNode(docker, control, env=self._env)
        return self

    def _create(self, docker: str, kind: str) -> None:
        config = self.config or default_config()
        if not config.is_file():
            raise PlatformError(f"kind cluster config {config} is missing; restore manifests/kind/cluster.yaml")
        argv = [kind, "create", "cluster", "--name", self.name, "--config", str(config),
                "--kubeconfig", str(self.kubeconfig), "--wait", "120s"]
        if self.logs_dir is not None:
            argv.append("--retain")  # a failed create leaves its nodes for `kind export logs`; close() deletes them
        if self.node_image:
            if not image_present(docker, self.node_image, self._env):
                raise PlatformError(f"kind node image {self.node_image} is not in the Docker engine: build or load "
                                    "it first (offline: `python -m kind_offline ensure` from tests/e2e)")
            argv += ["--image", self.node_image]
        self._created = True  # from here on, close() deletes whatever kind left half-made
        if not self.keep:  # a suite killed outright leaves it to the next run's clean-up
            state.hold("kind_cluster", self.name, f"kind cluster {self.name}",
                       docker_host=self.docker_host or os.environ.get("DOCKER_HOST", ""), kind=kind)
        try:
            run_tool(argv, what=f"kind create cluster {self.name}", timeout_s=CREATE_TIMEOUT_S, env=self._env)
        except PlatformError as e:
            hint = "" if self.node_image else (" (no node image was named: kind tried to pull its default; set "
                                               "GOCHAOS_KIND_NODE_IMAGE or --kind-node-image to a local one)")
            if "port is already allocated" in str(e):
                hint = (" (another kind cluster holds the host ports of manifests/kind/cluster.yaml: delete it, or "
                        "reuse it with --kind-cluster NAME)")
            if self.logs_dir is not None:
                hint += self._export_logs(kind, self.logs_dir)
            raise PlatformError(f"{e}{hint}") from e

    def _export_logs(self, kind: str, logs_dir: Path) -> str:
        """`kind export logs` of the (retained) nodes into `logs_dir`, best effort; says where they went."""
        try:
            run_tool([kind, "export", "logs", str(logs_dir), "--name", self.name], what="kind export logs",
                     timeout_s=DELETE_TIMEOUT_S, env=self._env)
        except PlatformError as e:
            return f" (node logs could not be exported: {e})"
        return f" (node logs in {logs_dir})"

    def close(self) -> None:
        """Delete the cluster unless kept or reused; remove the private kubeconfig."""
        try:
            if self._created and not self.keep:
                run_tool([self._kind(), "delete", "cluster", "--name", self.name],
                         what=f"kind delete cluster {self.name}", timeout_s=DELETE_TIMEOUT_S, env=self._env)
                state.release("kind_cluster", self.name)
        finally:
            if self._dir is not None and not (self.keep and self._created):
                state.remove_temp_dir(self._dir)
                self._dir = None

    def __enter__(self) -> KindCluster:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


@state.kind("kind_cluster", order=40)
def _reclaim_cluster(holding: state.Holding) -> str:
    """Delete a kind cluster a dead run created (with the Docker engine and kind it used)."""
    env = {**os.environ, **({"DOCKER_HOST": holding.data["docker_host"]} if holding.data.get("docker_host") else {})}
    kind = str(holding.data.get("kind") or kind_cli())
    if holding.key not in run_tool([kind, "get", "clusters"], what="kind get clusters", env=env).split():
        return "already gone"
    run_tool([kind, "delete", "cluster", "--name", holding.key], what=f"kind delete cluster {holding.key}",
             timeout_s=DELETE_TIMEOUT_S, env=env)
    return "deleted"


class KindNode:
    """The node container of a kind cluster, as seen from this host."""

    def __init__(self, docker: str, container: str, *, env: Mapping[str, str] | None = None) -> None:
        self.docker = docker
        self.container = container
        self.env = env
        self._inspect: dict[str, Any] | None = None

    def inspect(self) -> dict[str, Any]:
        if self._inspect is None:
            data = json.loads(run_tool([self.docker, "inspect", self.container], what="docker inspect node",
                                       env=self.env))
            self._inspect = dict(data[0])
        return self._inspect

    def published_ports(self) -> dict[int, tuple[str, int]]:
        """Node port -> (host address, host port), for every TCP port the node publishes on loopback."""
        ports: dict[int, tuple[str, int]] = {}
        bindings = self.inspect().get("HostConfig", {}).get("PortBindings") or {}
        for key, binds in bindings.items():
            port, _, proto = key.partition("/")
            for bind in binds or []:
                host_ip = bind.get("HostIp") or ""
                if proto == "tcp" and host_ip.startswith("127.") and bind.get("HostPort"):
                    ports[int(port)] = (host_ip, int(bind["HostPort"]))
        return ports

    def shared_dir(self) -> tuple[Path, str]:
        """(host path, node path) of a directory both this host and the node see, for config files.

        An extraMount at NODE_DIR when the cluster config has one, else the node's /var volume,
        which Docker keeps in a host directory: either way a write here is a write in the pod.
        """
        mounts = self.inspect().get("Mounts") or []
        for mount in mounts:
            if mount.get("Destination") == NODE_DIR:
                return Path(mount["Source"]), NODE_DIR
        for mount in mounts:
            if mount.get("Destination") == "/var":
                return Path(mount["Source"]) / NODE_DIR.removeprefix("/var/"), NODE_DIR
        raise PlatformError(f"node {self.container} mounts no host directory at {NODE_DIR} or /var; add an "
                            f"extraMount with containerPath {NODE_DIR} to the kind cluster config")

    def exec(self, *argv: str, what: str) -> str:
        return run_tool([self.docker, "exec", self.container, *argv], what=what, env=self.env)

    def container_pid(self, container_id: str) -> int:
        """Pid (in the node) of a running container's main process, from the node's containerd."""
        for line in self.exec("ctr", "--namespace", "k8s.io", "tasks", "ls", what="ctr tasks ls").splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 3 and fields[0] == container_id and fields[2] == "RUNNING":
                return int(fields[1])
        raise PlatformError(f"container {container_id[:12]} has no running process in node {self.container}")

    def signal_container(self, container_id: str, sig: signal.Signals) -> int:
        """Send `sig` to a container's main process, inside the node; returns its pid there."""
        pid = self.container_pid(container_id)
        self.exec("kill", "-s", sig.name.removeprefix("SIG"), str(pid), what=f"kill -{sig.name}")
        return pid

    def throttled_periods(self, container_id: str) -> int | None:
        """CFS periods the container was throttled in so far (its cgroup's cpu.stat), None if unreadable."""
        try:
            info = json.loads(self.exec("ctr", "--namespace", "k8s.io", "containers", "info", container_id,
                                        what="ctr containers info"))
            path = str(info["Spec"]["linux"]["cgroupsPath"]).lstrip("/")
        except (PlatformError, KeyError, TypeError, ValueError):
            return None
        for root in ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup"):
            try:
                stat = self.exec("cat", f"{root}/{path}/cpu.stat", what="read cpu.stat")
            except PlatformError:
                continue
            for line in stat.splitlines():
                key, _, value = line.partition(" ")
                if key == "nr_throttled":
                    return int(value)
        return None

