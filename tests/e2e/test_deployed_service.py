"""A team's service already deployed on a cluster: found, checked and hurt through the API only.

The "team" here is this test: it deploys configd into a namespace of its own the way a team would
(its own Deployment, ConfigMap and labels), then runs `gochaos run` on a scenario that names the
workload. gochaos deploys nothing: it reaches the pod through port-forward, writes reload storms
into the ConfigMap, follows the pods for crashes, and refuses (before any fault) a namespace that
did not opt in, a missing object, or an identity RBAC does not let do what the run needs.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from team_service import AGENT_TOKEN, BUILDS, CONFIG, deploy_team, scenario_doc, team_deployment, write_scenario

from chaos.build import Binaries
from chaos.observe.readiness import wait_until
from chaos.platform.kubernetes.cluster.cluster import ClusterAccess, KubernetesOptions, connect
from chaos.platform.kubernetes.cluster.images import ensure_image, load_into_kind
from chaos.platform.kubernetes.cluster.kind import KindCluster
from chaos.platform.kubernetes.cluster.rights import OPT_IN_LABEL, OPT_IN_VALUE

pytestmark = [pytest.mark.kubernetes]


@dataclass
class Shop:
    """The team's namespace, its two configd Deployments and a namespace that did not opt in."""

    namespace: str
    closed: str
    kind: KindCluster
    kind_binary: str
    access: ClusterAccess
    image: str = ""


@pytest.fixture(scope="module")
def shop(gochaos_kind_cluster: KindCluster, kind_binary: str) -> Iterator[Shop]:
    from kubernetes import client as client_module

    client: Any = client_module
    previous = os.environ.get("GOCHAOS_KIND")
    os.environ["GOCHAOS_KIND"] = kind_binary
    access = connect(KubernetesOptions(kind_cluster=gochaos_kind_cluster.name))
    core = client.CoreV1Api(access.api)
    suffix = secrets.token_hex(3)
    shop = Shop(f"shop-{suffix}", f"closed-{suffix}", gochaos_kind_cluster, kind_binary, access)
    try:
        assert access.node is not None
        image = ensure_image(access.node.docker, Binaries(), "configd")
        load_into_kind(image, gochaos_kind_cluster.name)
        shop.image = image
        core.create_namespace({"metadata": {"name": shop.namespace, "labels": {OPT_IN_LABEL: OPT_IN_VALUE}}})
        core.create_namespace({"metadata": {"name": shop.closed}})
        deploy_team(access.api, shop.namespace, image)
        yield shop
    finally:
        for ns in (shop.namespace, shop.closed):
            try:
                core.delete_namespace(ns)
            except Exception as e:  # already gone is fine; anything else is shown, not hidden
                print(f"delete namespace {ns}: {e}")
        access.close()
        if previous is None:
            os.environ.pop("GOCHAOS_KIND", None)
        else:
            os.environ["GOCHAOS_KIND"] = previous


def _gochaos(shop: Shop, *args: str, cwd: Path, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GOCHAOS_KIND": shop.kind_binary}
    return subprocess.run([sys.executable, "-m", "chaos.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def _config_map(shop: Shop, name: str) -> str:
    from kubernetes import client as client_module

    client: Any = client_module
    found = client.CoreV1Api(shop.access.api).read_namespaced_config_map(name, shop.namespace)
    return str(found.data["config.yaml"])


#: One config the service must take (a new route), then one it must reject (a status that is not a number),
#: each given the kubelet's ConfigMap sync time to reach the pod.
STORM = [{"injector": "reload_storm", "target": "web", "params": {
    "pattern": "variants", "rounds": 2, "interval_ms": 20000, "settle_ms": 30000, "variants": [
        {"name": "promo-route", "label": "structural", "expect": "accept",
         "patch": {"version": "2", "http": {"routes": {"/promo": {"status": 200, "body": "promo\n"}}}}},
        {"name": "bad-status", "label": "invalid", "expect": "reject",
         "patch": {"version": "3", "http": {"routes": {"/": {"status": "teapot"}}}}}]}}]


def test_a_reload_storm_reaches_a_deployed_service_through_its_config_map_and_is_reverted(
        shop: Shop, tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, shop.namespace, faults=STORM)
    started = time.monotonic()
    result = _gochaos(shop, "run", str(scenario), "--platform", "kubernetes", "--kind-cluster", shop.kind.name,
                      "--report-dir", str(tmp_path / "r"), "--seed", "5", cwd=tmp_path)
    print(result.stdout[-3000:], result.stderr[-2000:], f"{time.monotonic() - started:.0f}s", sep="\n")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    writes = [e for e in report["events"] if e["kind"] == "reload.write"]
    assert [w["details"]["mode"] for w in writes] == ["configmap-api"] * len(writes) and len(writes) == 3, writes
    assert writes[-1]["details"]["mutation"] == "revert"
    storm = next(f for f in report["findings"] if f["check"] == "fault:reload_storm#1")
    assert storm["status"] == "pass" and storm["figures"]["writes_seen_live"] == [1], storm
    print(f"ConfigMap update to the pod serving it: {storm['figures']['live_after_ms']} ms")
    assert _config_map(shop, "web-config") == CONFIG, "the ConfigMap holds what it held before the run"
    starts = [e for e in report["events"] if e["kind"] == "target.start"]
    assert starts and starts[0]["details"]["deployed"] == "deployment/web"


def test_a_config_kept_in_a_secret_is_stormed_through_the_secret_and_restored(shop: Shop, tmp_path: Path) -> None:
    from kubernetes import client as client_module

    client: Any = client_module
    core, apps = client.CoreV1Api(shop.access.api), client.AppsV1Api(shop.access.api)
    core.create_namespaced_secret(shop.namespace, {"metadata": {"name": "vault-config"},
                                                   "stringData": {"config.yaml": CONFIG}})
    deployment = team_deployment("vault", shop.image, BUILDS["web"])
    deployment["spec"]["template"]["spec"]["volumes"] = [{"name": "config", "secret": {"secretName": "vault-config"}}]
    apps.create_namespaced_deployment(shop.namespace, deployment)
    assert wait_until(lambda: (apps.read_namespaced_deployment("vault", shop.namespace).status.ready_replicas or 0)
                      >= 1, timeout_s=120, interval_s=1)
    doc = scenario_doc(shop.namespace, workload="deployment/vault", faults=STORM)
    doc["targets"][0]["deployed"]["config"] = {"secret": "vault-config", "key": "config.yaml"}
    scenario = tmp_path / "vault.chaos.yaml"
    scenario.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    result = _gochaos(shop, "run", str(scenario), "--platform", "kubernetes", "--kind-cluster", shop.kind.name,
                      "--report-dir", str(tmp_path / "r"), "--seed", "5", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    storm = next(f for f in report["findings"] if f["check"] == "fault:reload_storm#1")
    assert storm["status"] == "pass" and storm["figures"]["writes_seen_live"] == [1], storm
    secret = core.read_namespaced_secret("vault-config", shop.namespace)
    assert base64.b64decode(secret.data["config.yaml"]).decode() == CONFIG, "the Secret holds what it held before"


@pytest.mark.parametrize("named_by", ["workload", "selector"])
def test_a_deleted_pod_of_a_deployed_service_is_replaced_and_the_load_recovers(shop: Shop, tmp_path: Path,
                                                                                named_by: str) -> None:
    doc = scenario_doc(shop.namespace, faults=[{"injector": "pod_delete", "target": "web"}],
                       oracles=["panics", "recovery"], observe_s=5)
    if named_by == "selector":  # its pods by their labels, no workload named
        deployed = doc["targets"][0]["deployed"]
        del deployed["workload"]
        deployed["selector"] = "app=web"
    scenario = tmp_path / "pods.chaos.yaml"
    scenario.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    result = _gochaos(shop, "run", str(scenario), "--platform", "kubernetes", "--kind-cluster", shop.kind.name,
                      "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    fault = next(f for f in report["findings"] if f["check"] == "fault:pod_delete#1")
    assert fault["status"] == "pass" and len(fault["figures"]["deleted"]) == 1, fault
    print(f"a new pod served {fault['figures']['back_after_ms']} ms after the delete")
    exits = [e for e in report["events"] if e["kind"] == "target.exit"]
    assert exits and all(e["details"]["requested"] for e in exits), exits


def test_gc_pressure_rolls_a_deployed_service_with_gogc_and_rolls_it_back(shop: Shop, tmp_path: Path) -> None:
    from kubernetes import client as client_module

    client: Any = client_module
    apps = client.AppsV1Api(shop.access.api)
    scenario = write_scenario(tmp_path, shop.namespace, oracles=["panics", "recovery"], observe_s=3, faults=[
        {"injector": "gc_pressure", "target": "web", "params": {"method": "env", "gc_percent": 5, "duration_s": 4}}])
    result = _gochaos(shop, "run", str(scenario), "--platform", "kubernetes", "--kind-cluster", shop.kind.name,
                      "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    fault = next(f for f in report["findings"] if f["check"] == "fault:gc_pressure#1")
    assert fault["status"] == "pass" and fault["figures"]["env"] == {"GOGC": "5"}, fault
    print(f"gc_pressure env on a deployed service: {fault['summary']}")
    container = apps.read_namespaced_deployment("web", shop.namespace).spec.template.spec.containers[0]
    assert {var.name: var.value for var in container.env} == {"GOTRACEBACK": "all", "GODEBUG": "gctrace=1",
                                                              "CHAOSAGENT_TOKEN": None}, \
        "rolled back to the env it had: GOGC removed again"


def test_gc_pressure_squeezes_a_deployed_pod_in_place_and_restores_its_limits(shop: Shop, tmp_path: Path) -> None:
    from kubernetes import client as client_module

    client: Any = client_module
    core = client.CoreV1Api(shop.access.api)
    scenario = write_scenario(tmp_path, shop.namespace, oracles=["panics", "recovery"], observe_s=3, faults=[
        {"injector": "gc_pressure", "target": "web",
         "params": {"method": "cgroup", "cpu_limit_millicores": 100, "duration_s": 4}}])
    result = _gochaos(shop, "run", str(scenario), "--platform", "kubernetes", "--kind-cluster", shop.kind.name,
                      "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    fault = next(f for f in report["findings"] if f["check"] == "fault:gc_pressure#1")
    assert fault["status"] == "pass", fault
    print(f"gc_pressure cgroup on a deployed service: {fault['summary']}")
    [pod] = core.list_namespaced_pod(shop.namespace, label_selector="app=web").items
    limits = pod.status.container_statuses[0].resources.limits
    assert (limits["cpu"], limits["memory"]) == ("2", "256Mi"), "the pod runs with its own limits again"


def test_gc_pressure_through_the_chaosagent_a_deployed_service_links(shop: Shop, tmp_path: Path) -> None:
    doc = scenario_doc(shop.namespace, oracles=["panics", "recovery"], observe_s=3, faults=[
        {"injector": "gc_pressure", "target": "web",
         "params": {"method": "agent", "gc_percent": 5, "churn_mb_per_sec": 20, "duration_s": 4}}])
    doc["targets"][0]["deployed"]["agent_token_env"] = "SHOP_AGENT_TOKEN"
    scenario = tmp_path / "agent.chaos.yaml"
    scenario.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    args = ("run", str(scenario), "--platform", "kubernetes", "--kind-cluster", shop.kind.name,
            "--report-dir", str(tmp_path / "r"))
    refused = _gochaos(shop, *args, cwd=tmp_path, timeout=120)
    assert refused.returncode == 2 and "SHOP_AGENT_TOKEN" in refused.stderr, refused.stdout + refused.stderr
    os.environ["SHOP_AGENT_TOKEN"] = AGENT_TOKEN
    try:
        result = _gochaos(shop, *args, cwd=tmp_path)
    finally:
        del os.environ["SHOP_AGENT_TOKEN"]
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    fault = next(f for f in report["findings"] if f["check"] == "fault:gc_pressure#1")
    assert fault["status"] == "pass", fault
    print(f"gc_pressure agent on a deployed service: {fault['summary']}")
    assert AGENT_TOKEN not in (tmp_path / "r" / "report.json").read_text(), "the token never reaches a report"


def test_a_crash_of_a_deployed_service_is_seen_from_its_pods(shop: Shop, tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, shop.namespace, workload="deployment/web-racy", configmap="web-racy-config",
                         load_options={"routes": ["/"], "route_weight": 1, "cache_get_weight": 4,
                                       "cache_put_weight": 4, "cache_keys": 8},
                         oracles=["panics"], users=12, observe_s=15)
    result = _gochaos(shop, "run", str(scenario), "--platform", "kubernetes", "--kind-cluster", shop.kind.name,
                      "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    panics = next(f for f in report["findings"] if f["check"] == "panics")
    assert "concurrent map" in panics["summary"], panics["summary"]


def test_a_delay_on_a_deployed_services_load_link_crosses_a_proxy_in_front_of_its_service(
        shop: Shop, tmp_path: Path) -> None:
    """The team's pods are not changed: a chaosproxy pod of the run's forwards the load to the Service, the delay put
    on it lands in the report, and the pod is gone after the run."""
    from kubernetes import client as client_module

    client: Any = client_module
    delay = [{"injector": "network", "target": "web", "params": {"link": "load", "fault": "delay", "latency_ms": 50,
                                                                 "direction": "upstream", "duration_s": 3}}]
    scenario = write_scenario(tmp_path, shop.namespace, service="web", faults=delay, oracles=["panics"],
                              observe_s=1)
    result = _gochaos(shop, "run", str(scenario), "--platform", "kubernetes", "--kind-cluster", shop.kind.name,
                      "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    print(result.stdout[-3000:], result.stderr[-2000:], sep="\n")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    (fault,) = report["faults"]
    assert fault["landed"] and fault["details"]["measured_by"] == "the load's requests", fault
    assert 0.7 <= fault["details"]["observed_share"] <= 1.3, fault["summary"]
    (link,) = [e for e in report["events"] if e["kind"] == "network.link"]
    assert link["source"] == "load.web" and link["details"]["upstream"].startswith(f"web.{shop.namespace}.svc:")
    pods = client.CoreV1Api(shop.access.api).list_namespaced_pod(
        shop.namespace, label_selector="app.kubernetes.io/name=chaosproxy").items
    assert all(pod.metadata.deletion_timestamp for pod in pods), "the front proxy outlived its run"


@pytest.mark.parametrize(("change", "code", "message"), [
    ({"namespace": "closed"}, 2, f"has not opted in to chaos (label {OPT_IN_LABEL}={OPT_IN_VALUE} is missing)"),
    ({"workload": "deployment/wbe"}, 2, "deployment/wbe is not in namespace"),
    ({"configmap": "web-cfg"}, 2, "ConfigMap web-cfg is not in namespace"),
    ({"key": "app.yaml"}, 2, "has no key 'app.yaml' (has: config.yaml)"),
])
def test_a_deployed_service_that_is_not_there_is_refused_before_anything_changes(
        shop: Shop, tmp_path: Path, change: dict[str, str], code: int, message: str) -> None:
    change = dict(change)
    namespace = shop.closed if change.pop("namespace", None) else shop.namespace
    scenario = write_scenario(tmp_path, namespace, faults=STORM, workload=change.get("workload", "deployment/web"),
                         configmap=change.get("configmap", "web-config"), key=change.get("key", "config.yaml"))
    result = _gochaos(shop, "run", str(scenario), "--platform", "kubernetes", "--kind-cluster", shop.kind.name,
                      cwd=tmp_path, timeout=120)
    assert result.returncode == code, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert _config_map(shop, "web-config") == CONFIG


def test_a_verb_rbac_denies_is_named_before_anything_changes(shop: Shop, tmp_path: Path) -> None:
    """An identity that may read everything but not patch the ConfigMap nor port-forward: exit 3, untouched."""
    from kubernetes import client as client_module

    client: Any = client_module
    core, rbac = client.CoreV1Api(shop.access.api), client.RbacAuthorizationV1Api(shop.access.api)
    ns, sa = shop.namespace, "reader"
    core.create_namespaced_service_account(ns, {"metadata": {"name": sa}})
    rbac.create_namespaced_role(ns, {"metadata": {"name": sa}, "rules": [
        {"apiGroups": [""], "resources": ["pods", "pods/log", "configmaps"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create", "get", "delete"]}]})
    rbac.create_namespaced_role_binding(ns, {"metadata": {"name": sa}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": sa},
        "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]})
    cluster_role = f"gochaos-test-namespace-reader-{ns}"
    rbac.create_cluster_role({"metadata": {"name": cluster_role}, "rules": [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}]})
    rbac.create_cluster_role_binding({"metadata": {"name": cluster_role}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
        "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]})
    try:
        token = core.create_namespaced_service_account_token(sa, ns, {"spec": {"expirationSeconds": 600}}).status.token
        kubeconfig = _token_kubeconfig(shop, tmp_path / "reader.kubeconfig", token)
        scenario = write_scenario(tmp_path, ns, faults=STORM)
        result = _gochaos(shop, "run", str(scenario), "--platform", "kubernetes", "--kubeconfig", str(kubeconfig),
                          "--context", "reader", "--allow-context", "reader", cwd=tmp_path, timeout=120)
        assert result.returncode == 3, result.stdout + result.stderr
        assert f"may not create pods/portforward in namespace {ns}; patch configmaps in namespace {ns} (RBAC)" \
            in result.stderr, result.stderr
        assert _config_map(shop, "web-config") == CONFIG
    finally:
        rbac.delete_cluster_role_binding(cluster_role)
        rbac.delete_cluster_role(cluster_role)


def test_deleting_the_kill_switch_lease_aborts_the_run_and_reverts_the_config_map(shop: Shop, tmp_path: Path) -> None:
    from kubernetes import client as client_module

    client: Any = client_module
    leases = client.CoordinationV1Api(shop.access.api)
    scenario = write_scenario(tmp_path, shop.namespace, faults=STORM)
    env = {**os.environ, "GOCHAOS_KIND": shop.kind_binary}
    run = subprocess.Popen([sys.executable, "-m", "chaos.cli", "run", str(scenario), "--platform", "kubernetes",
                            "--kind-cluster", shop.kind.name], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert wait_until(lambda: _config_map(shop, "web-config") != CONFIG, timeout_s=120, interval_s=0.2), \
            "the storm never wrote the ConfigMap"
        (lease,) = [item.metadata.name for item in leases.list_namespaced_lease(
            shop.namespace, label_selector="app.kubernetes.io/managed-by=gochaos").items]
        pulled = time.monotonic()
        leases.delete_namespaced_lease(lease, shop.namespace)
        out, err = run.communicate(timeout=120)
        print(f"aborted {time.monotonic() - pulled:.1f}s after the Lease was deleted")
    finally:
        if run.poll() is None:
            os.killpg(run.pid, 9)
            run.wait(timeout=30)
    assert run.returncode == 130, out + err
    assert f"interrupted by the kill switch (Lease {shop.namespace}/{lease} was deleted)" in err, err
    assert _config_map(shop, "web-config") == CONFIG, "the abort reverted the storm"


def _token_kubeconfig(shop: Shop, path: Path, token: str) -> Path:
    """A kubeconfig for the same API server, authenticated as a ServiceAccount by its token."""
    assert shop.access.kubeconfig is not None
    data = yaml.safe_load(shop.access.kubeconfig.read_text(encoding="utf-8"))
    context = next(c for c in data["contexts"] if c["name"] == shop.access.context)["context"]
    cluster = next(c for c in data["clusters"] if c["name"] == context["cluster"])["cluster"]
    base64.b64decode(cluster["certificate-authority-data"])  # the kind kubeconfig carries its CA inline
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "reader",
           "clusters": [{"name": "reader", "cluster": cluster}],
           "users": [{"name": "reader", "user": {"token": token}}],
           "contexts": [{"name": "reader", "context": {"cluster": "reader", "user": "reader"}}]}
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_a_killed_run_leaves_the_original_config_map_to_restore(shop: Shop, tmp_path: Path) -> None:
    """SIGKILL mid-storm runs no revert; `gochaos cleanup` writes back what the key held before the run."""
    scenario = write_scenario(tmp_path, shop.namespace, faults=STORM)
    state_dir = tmp_path / "state"
    env = {**os.environ, "GOCHAOS_KIND": shop.kind_binary, "GOCHAOS_STATE_DIR": str(state_dir)}
    run = subprocess.Popen([sys.executable, "-m", "chaos.cli", "run", str(scenario), "--platform", "kubernetes",
                            "--kind-cluster", shop.kind.name], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert wait_until(lambda: _config_map(shop, "web-config") != CONFIG, timeout_s=120, interval_s=0.2), \
            "the storm never wrote the ConfigMap"
    finally:
        os.killpg(run.pid, 9)
        run.wait(timeout=30)
    assert _config_map(shop, "web-config") != CONFIG, "nothing reverted it: the run was killed"
    cleanup = subprocess.run([sys.executable, "-m", "chaos.cli", "cleanup"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    assert cleanup.returncode == 0, cleanup.stdout + cleanup.stderr
    assert f"ConfigMap {shop.namespace}/web-config key config.yaml" in cleanup.stdout, cleanup.stdout
    assert _config_map(shop, "web-config") == CONFIG
