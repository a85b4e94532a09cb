"""The workloads the suite deploys, rendered from the YAML files in manifests/ (read by `cluster.manifest_files`).

The suite fills in what differs per run: names, labels, image tag, the target's args and env from its
TargetSpec (with the placeholders resolved for the pod), the nodePort, and where the config file comes
from. One source of truth, so what CI runs is what an engineer can apply and inspect.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

from chaos.configs.placeholders import spaced
from chaos.errors import PlatformError, TargetError
from chaos.platform.kubernetes.cluster.manifest_files import Manifest, run_labels
from chaos.targets import GO_OBSERVABILITY_ENV, TargetSpec, fill_placeholders

TARGET_LABEL = "gochaos.io/target"
#: The container every target template names: the one the suite reads logs and states of.
CONTAINER = "target"
#: Where the target's config directory is mounted in its pod.
CONFIG_DIR_IN_POD = "/config"


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetPlacement:
    """What the platform decided for one target in this run."""

    namespace: str
    run_id: str
    image: str
    node_port: int
    #: Extra environment (the chaosagent token, a GOGC under test); None removes a variable.
    env: Mapping[str, str | None]
    etcd_endpoints: str = ""
    #: Directory on the node holding the config file (kind), mounted as a hostPath; None: the ConfigMap.
    config_host_dir: str | None = None


def container_port(docs: list[Manifest]) -> int:
    """The container port of the template's target container."""
    container = _container(_one(docs, "Deployment"))
    try:
        return int(container["ports"][0]["containerPort"])
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise PlatformError("the target Deployment template declares no containerPort") from e


def pod_args(spec: TargetSpec, port: int, etcd_endpoints: str) -> list[str]:
    """The target's argv for its container: placeholders resolved as the pod sees them.

    The image's entrypoint is the binary, so `{binary}` must be the first word and is dropped.
    """
    refused = pod_refusal(spec)
    if refused is not None:
        raise TargetError(refused)
    values = pod_placeholders(spec, str(port), etcd_endpoints)
    return [fill_placeholders(arg, values, spec.name) for arg in spec.command[1:]]


def pod_refusal(spec: TargetSpec) -> str | None:
    """Why the suite cannot deploy `spec` as a pod (the plan refuses it up front with this), else None: only
    the bundled targets have images; a service of your own has none the suite could deploy."""
    if spec.binary and spec.command and spec.command[0] == "{binary}" and not spec.build and not spec.go_install:
        return None
    built = (f" (built from `build: {spec.build}`{', race' if spec.race else ''}, a local binary)" if spec.build
             else f" (`go_install: {spec.go_install}`, a local binary)" if spec.go_install else "")
    return (f"target {spec.name}: only bundled targets (command starting with {{binary}}) run on Kubernetes so far; "
            f"a command of your own{built} needs an image and manifest of your own: run it with --platform local, "
            "or deploy it yourself and name it with `deployed`")


def pod_placeholders(spec: TargetSpec, port: str, etcd_endpoints: str) -> dict[str, str]:
    """What each placeholder of a target's command means inside its pod."""
    config = f"{CONFIG_DIR_IN_POD}/{spec.config.file_name}" if spec.config else ""
    return {"binary": "/target", "listen": f"0.0.0.0:{port}", "host": "0.0.0.0", "port": port,
            "config": config, "etcd_endpoints": etcd_endpoints, "etcd_endpoints_spaced": spaced(etcd_endpoints),
            "workdir": "/tmp"}


def pod_env(spec: TargetSpec, extra: Mapping[str, str | None]) -> list[dict[str, str]]:
    """GOTRACEBACK/GODEBUG defaults, then the spec's env, then the run's extras (None removes)."""
    env: dict[str, str | None] = {**GO_OBSERVABILITY_ENV, **spec.env, **extra}
    return [{"name": k, "value": v} for k, v in env.items() if v is not None]


def config_map_name(spec: TargetSpec) -> str:
    return f"{spec.name}-config"


def render_target(docs: list[Manifest], spec: TargetSpec, placement: TargetPlacement) -> list[Manifest]:
    """ConfigMap, Deployment and Service of `spec` for this run (templates left untouched)."""
    port = container_port(docs)
    labels = {**run_labels(placement.run_id), TARGET_LABEL: spec.name, "app.kubernetes.io/name": spec.name}
    config_map = config_map_name(spec)
    out: list[Manifest] = []
    for doc in map(copy.deepcopy, docs):
        kind = doc["kind"]
        meta = doc.setdefault("metadata", {})
        meta["namespace"] = placement.namespace
        meta.setdefault("labels", {}).update(labels)
        if kind == "ConfigMap":
            if spec.config is None:
                continue
            meta["name"] = config_map
            doc["data"] = {spec.config.file_name: spec.config.initial}
        elif kind == "Deployment":
            meta["name"] = spec.name
            _render_deployment(doc, spec, placement, port, labels, config_map)
        elif kind == "Service":
            meta["name"] = spec.name
            doc["spec"]["selector"] = {TARGET_LABEL: spec.name}
            doc["spec"]["ports"][0]["nodePort"] = placement.node_port
        out.append(doc)
    return out


def _render_deployment(doc: Manifest, spec: TargetSpec, placement: TargetPlacement, port: int,
                       labels: dict[str, str], config_map: str) -> None:
    body = doc["spec"]
    body["selector"] = {"matchLabels": {TARGET_LABEL: spec.name}}
    template = body["template"]
    template.setdefault("metadata", {}).setdefault("labels", {}).update(labels)
    container = _container(doc)
    container["image"] = placement.image
    container["args"] = pod_args(spec, port, placement.etcd_endpoints)
    container["env"] = pod_env(spec, placement.env)
    path, grpc_service = spec.readiness.http_path, spec.readiness.grpc_health
    probe: Manifest = ({"grpc": {"port": port, "service": grpc_service}} if grpc_service is not None
                       else {"httpGet": {"path": path, "port": port}} if path else {"tcpSocket": {"port": port}})
    container["readinessProbe"] = {
        **probe,
        "periodSeconds": 1, "failureThreshold": 2,
    }
    pod = template["spec"]
    volumes = [v for v in pod.get("volumes", []) if v.get("name") != "config"]
    mounts = [m for m in container.get("volumeMounts", []) if m.get("name") != "config"]
    if spec.config is not None:
        source: Manifest = ({"hostPath": {"path": placement.config_host_dir, "type": "Directory"}}
                            if placement.config_host_dir else {"configMap": {"name": config_map}})
        volumes.append({"name": "config", **source})
        mounts.append({"name": "config", "mountPath": CONFIG_DIR_IN_POD})
    pod["volumes"] = volumes
    container["volumeMounts"] = mounts


def _one(docs: list[Manifest], kind: str) -> Manifest:
    found = [d for d in docs if d.get("kind") == kind]
    if len(found) != 1:
        raise PlatformError(f"target manifests hold {len(found)} {kind} objects; exactly one is expected")
    return found[0]


def _container(deployment: Manifest) -> Manifest:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    for container in containers:
        if container.get("name") == CONTAINER:
            found: Manifest = container
            return found
    raise PlatformError(f"the Deployment template has no container named {CONTAINER!r}")


# -- etcd -------------------------------------------------------------------------------------------
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
ETCD_NAME = "etcd"
#: The label the StatefulSet controller puts on each pod, naming it: selects one member.
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"


@dataclass(frozen=True, slots=True, kw_only=True)
class EtcdPlacement:
    """What the platform decided for the run's etcd cluster."""

    namespace: str
    run_id: str
    image: str
    size: int
    heartbeat_ms: int
    election_ms: int
    #: One node port per member (member i's client API from this host).
    node_ports: list[int]
    #: Directory on the node holding one data dir per member (survives pod deletion); None: emptyDir.
    data_host_dir: str | None = None


def etcd_member_names(size: int) -> list[str]:
    return [f"{ETCD_NAME}-{i}" for i in range(size)]


def etcd_client_urls(size: int) -> str:
    """The members' client URLs as pods in the namespace reach them (the headless Service's names)."""
    return ",".join(f"http://{name}.{ETCD_NAME}:{ETCD_CLIENT_PORT}" for name in etcd_member_names(size))


def render_etcd(docs: list[Manifest], placement: EtcdPlacement) -> list[Manifest]:
    """The headless Service and StatefulSet for this run, plus one NodePort Service per member.

    The per-member Services are how this host asks each member for its status (leadership is
    per member); they are the suite's access path, so they are made here rather than in manifests/.
    """
    labels = run_labels(placement.run_id)
    out: list[Manifest] = []
    for doc in map(copy.deepcopy, docs):
        meta = doc.setdefault("metadata", {})
        meta["namespace"] = placement.namespace
        meta.setdefault("labels", {}).update(labels)
        if doc["kind"] == "StatefulSet":
            _render_etcd_statefulset(doc, placement, labels)
        out.append(doc)
    for name, node_port in zip(etcd_member_names(placement.size), placement.node_ports, strict=True):
        out.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"{name}-client", "namespace": placement.namespace, "labels": dict(labels)},
            "spec": {"type": "NodePort", "selector": {POD_NAME_LABEL: name}, "publishNotReadyAddresses": True,
                     "ports": [{"name": "client", "port": ETCD_CLIENT_PORT, "targetPort": ETCD_CLIENT_PORT,
                                "nodePort": node_port}]},
        })
    return out


def _render_etcd_statefulset(doc: Manifest, placement: EtcdPlacement, labels: dict[str, str]) -> None:
    spec = doc["spec"]
    spec["replicas"] = placement.size
    spec["template"].setdefault("metadata", {}).setdefault("labels", {}).update(labels)
    pod = spec["template"]["spec"]
    container = next((c for c in pod["containers"] if c.get("name") == ETCD_NAME), None)
    if container is None:
        raise PlatformError(f"the etcd StatefulSet template has no container named {ETCD_NAME!r}")
    container["image"] = placement.image
    peers = ",".join(f"{name}=http://{name}.{ETCD_NAME}:{ETCD_PEER_PORT}" for name in etcd_member_names(placement.size))
    overrides = {"--initial-cluster": peers, "--initial-cluster-token": f"gochaos-{placement.run_id}",
                 "--heartbeat-interval": str(placement.heartbeat_ms),
                 "--election-timeout": str(placement.election_ms)}
    args = [arg for arg in container.get("args", []) if arg.partition("=")[0] not in overrides]
    container["args"] = args + [f"{flag}={value}" for flag, value in overrides.items()]
    if placement.data_host_dir is not None:  # data outlives a deleted pod, as on a real volume
        pod["volumes"] = [v for v in pod.get("volumes", []) if v.get("name") != "data"]
        pod["volumes"].append({"name": "data", "hostPath": {"path": placement.data_host_dir, "type": "Directory"}})
        for mount in container.get("volumeMounts", []):
            if mount.get("name") == "data":
                mount["subPathExpr"] = "$(POD_NAME)"


# -- the hog ----------------------------------------------------------------------------------------
def render_hog(docs: list[Manifest], *, name: str, namespace: str, run_id: str, image: str, node: str,
               args: list[str]) -> list[Manifest]:
    """The hog Pod of manifests/hog for one fault: on `node`, with this run's labels."""
    out = []
    for doc in map(copy.deepcopy, docs):
        meta = doc.setdefault("metadata", {})
        meta.update(name=name, namespace=namespace)
        meta.setdefault("labels", {}).update(run_labels(run_id))
        if doc["kind"] == "Pod":
            doc["spec"]["nodeName"] = node
            for container in doc["spec"]["containers"]:
                container.update(image=image, args=args)
        out.append(doc)
    return out
