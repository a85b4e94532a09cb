"""Smoke test of the offline kind cluster the suite runs its Kubernetes platform on.

One cluster for the module, built from manifests/kind/cluster.yaml with the locally built node
image: the node becomes Ready, the control plane and its add-ons run from preloaded images, the
project's configd (a FROM-scratch image built from go_targets/Dockerfile and `kind load`ed)
serves HTTP on 127.0.0.1 through a NodePort, cluster DNS resolves a Service from inside a pod,
and a ConfigMap edit reaches the pod's mounted volume (configd reloads it) within seconds.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from kind_offline import DockerEngine, api_client
from kind_offline.local_images import build_static_go_binary, docker_build, kind_load, load_binary_image
from kind_offline.locations import repo_root
from kind_offline.versions import KUBERNETES_VERSION

from chaos.platform.kubernetes.cluster.kind import KindCluster

pytestmark = pytest.mark.kubernetes

GO_TARGETS = repo_root() / "go_targets"
DNS_PROBE = Path(__file__).parent / "dns_probe"
NODE_PORT = 30080  # first of the range manifests/kind/cluster.yaml maps to 127.0.0.1
CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "coredns", "kube-proxy")
CONFIG_KEY = "configd.yaml"


@dataclass(frozen=True)
class Configd:
    """configd deployed in the test namespace, behind a NodePort Service."""

    namespace: str
    config_map: str
    service: str
    url: str


def wait_for(what: str, check: Callable[[], Any], *, timeout: float, interval: float = 1.0) -> Any:
    """Poll `check` until it returns something truthy; fail the test with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as e:  # the API or the workload may not answer yet
            last_error = e
        time.sleep(interval)
    pytest.fail(f"{what}: not within {timeout:.0f} s" + (f" (last error: {last_error})" if last_error else ""))


@dataclass(frozen=True)
class Api:
    """The two API groups these tests use, bound to the test cluster."""

    core: Any
    apps: Any


@pytest.fixture(scope="module")
def api(gochaos_kind_cluster: KindCluster) -> Api:
    from kubernetes import client

    cluster_api = api_client(gochaos_kind_cluster)
    return Api(core=client.CoreV1Api(cluster_api), apps=client.AppsV1Api(cluster_api))


@pytest.fixture(scope="module")
def namespace(api: Api) -> Iterator[str]:
    """A unique namespace for this module's workloads, labelled as e2e test data."""
    from kubernetes import client

    name = f"smoke-{secrets.token_hex(3)}"
    labels = {"app.kubernetes.io/part-of": "gochaos-e2e", "gochaos.dev/test": "test_kind_cluster"}
    api.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
    yield name
    api.core.delete_namespace(name)


@pytest.fixture(scope="module")
def configd(
    api: Api,
    namespace: str,
    gochaos_kind_cluster: KindCluster,
    docker_engine: DockerEngine,
    kind_binary: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Configd:
    """configd from go_targets/Dockerfile, loaded into the cluster and exposed on NodePort 30080."""
    from kubernetes import client

    context = tmp_path_factory.mktemp("configd-image")
    build_static_go_binary(module_dir=GO_TARGETS, package="./cmd/configd", out=context / "bin" / "configd")
    shutil.copy(GO_TARGETS / "Dockerfile", context / "Dockerfile")
    shutil.copytree(GO_TARGETS / "configs", context / "configs")
    tag = docker_build(docker_engine, context=context, tag="gochaos/configd:e2e", build_args={"TARGET": "configd"})
    kind_load(docker_engine, kind=Path(kind_binary), cluster=gochaos_kind_cluster.name, tag=tag)

    labels = {"app": "configd"}
    config_text = (GO_TARGETS / "configs" / "configd.yaml").read_text()
    api.core.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="configd-config"), data={CONFIG_KEY: config_text}))
    container = client.V1Container(
        name="configd",
        image=tag,
        image_pull_policy="Never",
        args=["--listen", "0.0.0.0:8080", "--config", f"/etc/configd/{CONFIG_KEY}", "--watch-config"],
        ports=[client.V1ContainerPort(container_port=8080, name="http")],
        readiness_probe=client.V1Probe(http_get=client.V1HTTPGetAction(path="/-/healthz", port="http"),
                                       period_seconds=1),
        volume_mounts=[client.V1VolumeMount(name="config", mount_path="/etc/configd", read_only=True)],
    )
    pod_spec = client.V1PodSpec(containers=[container], volumes=[client.V1Volume(
        name="config", config_map=client.V1ConfigMapVolumeSource(name="configd-config"))])
    api.apps.create_namespaced_deployment(namespace, client.V1Deployment(
        metadata=client.V1ObjectMeta(name="configd", labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels=labels), spec=pod_spec),
        ),
    ))
    api.core.create_namespaced_service(namespace, client.V1Service(
        metadata=client.V1ObjectMeta(name="configd"),
        spec=client.V1ServiceSpec(type="NodePort", selector=labels, ports=[
            client.V1ServicePort(port=80, target_port="http", node_port=NODE_PORT, name="http")]),
    ))
    wait_for("configd Deployment available",
             lambda: api.apps.read_namespaced_deployment("configd", namespace).status.available_replicas,
             timeout=120)
    url = f"http://127.0.0.1:{NODE_PORT}"
    # kube-proxy programs the NodePort a moment after the endpoint turns ready: until then the
    # port on 127.0.0.1 accepts (docker-proxy) and resets.
    wait_for(f"{url} answering", lambda: requests.get(f"{url}/-/healthz", timeout=2).ok, timeout=30, interval=0.2)
    return Configd(namespace=namespace, config_map="configd-config", service="configd", url=url)


def test_node_becomes_ready(api: Api, gochaos_kind_cluster: KindCluster) -> None:
    nodes = api.core.list_node().items
    assert gochaos_kind_cluster.node is not None
    assert [n.metadata.name for n in nodes] == [gochaos_kind_cluster.node.container]
    node = nodes[0]
    ready = {c.type: c.status for c in node.status.conditions}
    assert ready.get("Ready") == "True", node.status.conditions
    assert node.status.node_info.kubelet_version == KUBERNETES_VERSION
    assert node.status.node_info.container_runtime_version.startswith("containerd://1.6")


def test_control_plane_and_addons_run(api: Api) -> None:
    def all_running() -> list[str]:
        pods = api.core.list_namespaced_pod("kube-system").items
        running = {
            component
            for component in CONTROL_PLANE
            for pod in pods
            if pod.metadata.name.startswith(f"{component}-")
            and pod.status.phase == "Running"
            and all(cs.ready for cs in pod.status.container_statuses or [])
            and pod.status.container_statuses
        }
        return sorted(running) if running == set(CONTROL_PLANE) else []

    assert wait_for("kube-system pods Running and ready", all_running, timeout=180) == sorted(CONTROL_PLANE)


def test_configd_answers_on_loopback_nodeport(configd: Configd) -> None:
    response = requests.get(f"{configd.url}/hello", timeout=5)
    assert response.status_code == 200
    assert response.text == "hello\n"
    assert response.headers.get("X-Config-Version") == "1"


def test_cluster_dns_resolves_a_service_from_a_pod(
    api: Api,
    configd: Configd,
    docker_engine: DockerEngine,
    kind_binary: str,
    gochaos_kind_cluster: KindCluster,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from kubernetes import client

    work = tmp_path_factory.mktemp("dns-probe")
    binary = build_static_go_binary(module_dir=DNS_PROBE, package="./main.go", out=work / "dns-probe")
    tag = load_binary_image(docker_engine, binary=binary, tag="gochaos/dns-probe:e2e", work=work)
    kind_load(docker_engine, kind=Path(kind_binary), cluster=gochaos_kind_cluster.name, tag=tag)
    names = [configd.service, f"{configd.service}.{configd.namespace}.svc.cluster.local", "kubernetes.default"]
    api.core.create_namespaced_pod(configd.namespace, client.V1Pod(
        metadata=client.V1ObjectMeta(name="dns-probe"),
        spec=client.V1PodSpec(restart_policy="Never", containers=[
            client.V1Container(name="probe", image=tag, image_pull_policy="Never", args=names)]),
    ))

    def finished() -> str | None:
        phase = api.core.read_namespaced_pod("dns-probe", configd.namespace).status.phase
        return phase if phase in ("Succeeded", "Failed") else None

    phase = wait_for("dns-probe pod finished", finished, timeout=120)
    log = api.core.read_namespaced_pod_log("dns-probe", configd.namespace)
    assert phase == "Succeeded", log
    cluster_ip = api.core.read_namespaced_service(configd.service, configd.namespace).spec.cluster_ip
    assert f"{configd.service} OK {cluster_ip}" in log.splitlines(), log


def test_configmap_update_reaches_the_pod_within_seconds(api: Api, configd: Configd) -> None:
    config_map = api.core.read_namespaced_config_map(configd.config_map, configd.namespace)
    old = config_map.data[CONFIG_KEY]
    new = old.replace('version: "1"', 'version: "2"').replace('body: "hello\\n"', 'body: "hello v2\\n"')
    assert new != old, "the sample config changed shape: update this test's edit"
    config_map.data[CONFIG_KEY] = new
    api.core.replace_namespaced_config_map(configd.config_map, configd.namespace, config_map)
    edited = time.monotonic()

    def served() -> bool:
        response = requests.get(f"{configd.url}/hello", timeout=2)
        return response.text == "hello v2\n" and response.headers.get("X-Config-Version") == "2"

    wait_for("the edited ConfigMap served by configd", served, timeout=30, interval=0.2)
    elapsed = time.monotonic() - edited
    print(f"ConfigMap edit served after {elapsed:.1f} s")
    assert elapsed < 10, f"the ConfigMap edit took {elapsed:.1f} s to reach the pod"
