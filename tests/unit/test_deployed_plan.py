"""A service already deployed on a cluster: how a scenario names it, what the dry run says, what RBAC it needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.errors import ScenarioError, UsageError
from chaos.plan import build_plan, describe
from chaos.platform.kubernetes.cluster.manifest_files import manifests_dir
from chaos.platform.kubernetes.deployed.deployed import needs
from chaos.scenario import Scenario, load_scenario
from chaos.targets import ConfigDelivery, Deployed, WorkloadChange

HERE = Path(".")
DEPLOYED = {"namespace": "shop", "workload": "deployment/web", "port": 8080,
            "config": {"configmap": "web-config", "key": "config.yaml"}}


def deployed_scenario(**target: Any) -> Scenario:
    return Scenario.model_validate({
        "name": "shop-web", "targets": [{"name": "web", "deployed": DEPLOYED, **target}],
        "load": {"user": "configd"},
        "faults": [{"injector": "reload_storm", "target": "web", "params": {"pattern": "auto", "rounds": 2}}]})


def test_a_deployed_service_is_planned_with_its_config_map_and_nothing_to_start() -> None:
    plan = build_plan(deployed_scenario(format="yaml"), HERE, platform="kubernetes", seed=1)
    (web,) = plan.targets
    assert web.command == () and web.binary is None and web.go_install is None
    assert web.config is not None and web.config.delivery is ConfigDelivery.CONFIGMAP
    assert web.config.file_name == "config.yaml" and web.config.initial == ""  # read from the cluster at start
    lines = describe(plan)
    assert "  web: deployed deployment/web in namespace shop, its only container, port 8080 through port-forward " \
           "(nothing is started or deployed)" in lines
    assert "    changes: ConfigMap shop/web-config key config.yaml (reload faults); restores: that key to what it " \
           "held when the run started" in lines
    checks = next(line for line in lines if line.startswith("    checks first"))
    assert "patch configmaps in namespace shop" in checks and "create pods/portforward in namespace shop" in checks


def test_a_config_in_a_secret_is_read_changed_and_restored_as_a_secret() -> None:
    scenario = deployed_scenario()
    entry = scenario.targets[0].model_copy(update={"deployed": Deployed.model_validate(
        {**DEPLOYED, "config": {"secret": "web-secret", "key": "config.yaml"}})})
    plan = build_plan(scenario.model_copy(update={"targets": [entry]}), HERE, platform="kubernetes", seed=1)
    lines = describe(plan)
    assert "    changes: Secret shop/web-secret key config.yaml (reload faults); restores: that key to what it " \
           "held when the run started" in lines
    checks = next(line for line in lines if line.startswith("    checks first"))
    assert "patch secrets in namespace shop" in checks and "configmaps" not in checks


def test_pods_named_by_a_selector_are_read_without_a_workload_and_never_rolled_out() -> None:
    by_labels = {k: v for k, v in DEPLOYED.items() if k != "workload"} | {"selector": "app=web,tier=front"}
    asked = {str(n) for n in needs(Deployed.model_validate(by_labels), tuple(WorkloadChange))}
    assert not any("deployments" in need or "statefulsets" in need for need in asked), asked
    scenario = Scenario.model_validate({
        "name": "shop-web", "targets": [{"name": "web", "deployed": by_labels}], "load": {"user": "configd"},
        "faults": [{"injector": "gc_pressure", "target": "web", "params": {"method": "env", "gc_percent": 5}}]})
    with pytest.raises(UsageError, match=r"pods named by `deployed\.selector` have none: name it with "
                                         r"`deployed\.workload`"):
        build_plan(scenario, HERE, platform="kubernetes", seed=1)
    plan = build_plan(scenario.model_copy(update={"faults": []}), HERE, platform="kubernetes", seed=1)
    assert any(line.startswith("  web: deployed pods app=web,tier=front in namespace shop") for line in describe(plan))


def test_a_deployed_service_needs_the_kubernetes_platform() -> None:
    with pytest.raises(UsageError, match="target web is a service deployed on a cluster: run it with --platform "
                                         "kubernetes"):
        build_plan(deployed_scenario(), HERE, platform="local", seed=1)


@pytest.mark.parametrize(("target", "message"), [
    ({"deployed": {**DEPLOYED, "workload": "web"}}, "deployed.workload: String should match pattern"),
    ({"deployed": {**DEPLOYED, "workload": "daemonset/web"}}, "deployed.workload: String should match pattern"),
    ({"deployed": {**DEPLOYED, "port": 0}}, "deployed.port: Input should be greater than or equal to 1"),
    ({"deployed": {**DEPLOYED, "config": {"configmap": "web-config"}}},
     "deployed.config.key: required field 'key' is missing; add it"),
    ({"deployed": {**DEPLOYED, "config": {"configmap": "a", "secret": "b", "key": "k"}}},
     "give `configmap` or `secret`: the one object whose key holds the config file"),
    ({"deployed": {**DEPLOYED, "config": {"key": "k"}}},
     "give `configmap` or `secret`: the one object whose key holds the config file"),
    ({"deployed": {**DEPLOYED, "selector": "app=web"}},
     "give `workload` (deployment/NAME or statefulset/NAME) or `selector` (its pods' labels)"),
    ({"deployed": {k: v for k, v in DEPLOYED.items() if k != "workload"}},
     "give `workload` (deployment/NAME or statefulset/NAME) or `selector` (its pods' labels)"),
    ({"deployed": {**{k: v for k, v in DEPLOYED.items() if k != "workload"}, "selector": "app in (web)"}},
     "deployed.selector: String should match pattern"),
    ({"deployed": DEPLOYED, "command": ["./web"]}, "give exactly one of `bundled`"),
    ({"deployed": {**DEPLOYED, "namespce": "shop"}}, "did you mean 'namespace'"),
    ({"deployed": DEPLOYED, "reload": "sighup"}, "cannot signal its process: use `reload: watch`"),
])
def test_a_wrong_deployed_reference_is_refused_with_its_line(tmp_path: Path, target: dict[str, Any],
                                                             message: str) -> None:
    path = tmp_path / "s.chaos.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "targets": [{"name": "web", **target}]}), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"s\.chaos\.yaml:\d+: ") as refused:
        load_scenario(path)
    assert message in str(refused.value)


def _allows(rules: list[dict[str, Any]], verb: str, resource: str, group: str) -> bool:
    return any(group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
               for rule in rules)


@pytest.mark.parametrize("workload", ["deployment/web", "statefulset/web"])
def test_the_shipped_role_grants_every_verb_a_run_checks_for_and_no_more(workload: str) -> None:
    role = yaml.safe_load((manifests_dir() / "rbac" / "role.yaml").read_text(encoding="utf-8"))
    cluster_role = manifests_dir() / "rbac" / "cluster" / "clusterrole.yaml"
    cluster = list(yaml.safe_load_all(cluster_role.read_text(encoding="utf-8")))
    wanted = needs(Deployed.model_validate({**DEPLOYED, "workload": workload, "service": "web"}), tuple(WorkloadChange))
    for need in wanted:
        resource = f"{need.resource}/{need.subresource}" if need.subresource else need.resource
        assert _allows(role["rules"], need.verb, resource, need.group), f"the Role does not grant {need}"
    granted = {(verb, resource) for rule in role["rules"] for resource in rule["resources"] for verb in rule["verbs"]}
    secret = {"secret": "web-config", "key": "config.yaml"}
    asked = {(n.verb, f"{n.resource}/{n.subresource}" if n.subresource else n.resource)
             for w in ("deployment/web", "statefulset/web") for config in (DEPLOYED["config"], secret)
             for n in needs(Deployed.model_validate({**DEPLOYED, "workload": w, "service": "web", "config": config}),
                            tuple(WorkloadChange))}
    assert granted == asked, "the Role grants exactly what runs check for"
    assert _allows(cluster[0]["rules"], "get", "namespaces", ""), "the opt-in label check reads the namespace"


def test_a_run_asks_only_for_the_verbs_its_faults_use() -> None:
    storm_only = build_plan(deployed_scenario(), HERE, platform="kubernetes", seed=1)
    assert storm_only.targets[0].workload_changes == ()
    checks = next(line for line in describe(storm_only) if line.startswith("    checks first"))
    assert "delete pods" not in checks and "patch deployments" not in checks
    scenario = Scenario.model_validate({
        "name": "shop-web", "targets": [{"name": "web", "deployed": DEPLOYED}], "load": {"user": "configd"},
        "faults": [{"injector": "pod_delete", "target": "web"},
                   {"injector": "gc_pressure", "target": "web", "params": {"method": "env", "gc_percent": 5}}]})
    plan = build_plan(scenario, HERE, platform="kubernetes", seed=1)
    assert plan.targets[0].workload_changes == ("pods", "env")
    lines = describe(plan)
    checks = next(line for line in lines if line.startswith("    checks first"))
    assert "delete pods in namespace shop" in checks and "patch deployments.apps in namespace shop" in checks
    assert ("    changes (faults): deployment/web's pods (deleted; the workload replaces them) and container env "
            "(a rollout, rolled back)") in lines


def _network(params: dict[str, Any], **load: Any) -> Scenario:
    return Scenario.model_validate({
        "name": "shop-web", "targets": [{"name": "web", "deployed": {**DEPLOYED, "service": "web"}}],
        "load": {"user": "configd", **load},
        "faults": [{"injector": "network", "target": "web", "params": params}]})


def test_a_deployed_services_load_link_is_a_proxy_pod_in_front_of_its_service() -> None:
    plan = build_plan(_network({"fault": "delay", "latency_ms": 20}), HERE, platform="kubernetes", seed=1)
    (web,) = plan.targets
    assert web.workload_changes == (WorkloadChange.FRONT_PROXY,)
    lines = describe(plan)
    assert any("load, through a chaosproxy pod of the run's in front of its Service" in line for line in lines)
    checks = next(line for line in lines if line.startswith("    checks first"))
    assert "create pods in namespace shop" in checks and "delete pods in namespace shop" in checks


@pytest.mark.parametrize(("params", "load", "message"), [
    ({"link": "upstream", "upstream": "db:5432", "fault": "blackhole"}, {},
     "a service already deployed, whose pods the suite does not change: its upstream link"),
    ({"fault": "delay", "latency_ms": 20}, {"worker_pods": 2},
     "worker pods send theirs to the Service directly, past the link: drop `load.worker_pods`"),
])
def test_what_a_deployed_service_cannot_route_is_refused_before_anything_changes(
        params: dict[str, Any], load: dict[str, Any], message: str) -> None:
    with pytest.raises((UsageError, ScenarioError), match=message):
        build_plan(_network(params, **load), HERE, platform="kubernetes", seed=1)


def test_without_its_service_a_deployed_service_has_no_load_link() -> None:
    scenario = _network({"fault": "delay", "latency_ms": 20})
    entry = scenario.targets[0].model_copy(update={"deployed": Deployed.model_validate(DEPLOYED)})
    with pytest.raises(UsageError, match=r"a chaosproxy pod in front of its Service: name it in `deployed.service`"):
        build_plan(scenario.model_copy(update={"targets": [entry]}), HERE, platform="kubernetes", seed=1)
