"""A team's service as the e2e tests deploy it: configd with its own Deployment and ConfigMap, and a
scenario naming it as a `deployed:` target. Shared by the tests that run gochaos from outside the
cluster and from its in-cluster runner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from chaos.build import go_targets_dir
from chaos.observe.readiness import wait_until

CONFIG = (go_targets_dir() / "configs" / "configd.yaml").read_text(encoding="utf-8")


#: The token the team's chaosagent expects (a Secret in its namespace; the run gets it in its environment).
AGENT_TOKEN = "shop-agent-token-0123456789"
#: The team's two builds: a correct one, and one whose cache map is unlocked (it crashes under load).
BUILDS = {"web": ["--reload-strategy=atomic", "--cache-lock=sharded"],
          "web-racy": ["--reload-strategy=atomic", "--cache-lock=none"]}


def team_deployment(name: str, image: str, flags: list[str]) -> dict[str, Any]:
    """configd as a team deploys it: its config mounted from ConfigMap `<name>-config`, a readiness probe."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{
                "name": "server", "image": image, "imagePullPolicy": "Never",
                "args": ["--listen=0.0.0.0:8080", "--config=/etc/app/config.yaml", "--watch-config", *flags],
                "env": [{"name": "GOTRACEBACK", "value": "all"}, {"name": "GODEBUG", "value": "gctrace=1"},
                        {"name": "CHAOSAGENT_TOKEN",  # configd links chaosagent; the team keeps its token in a Secret
                         "valueFrom": {"secretKeyRef": {"name": "agent", "key": "token"}}}],
                "ports": [{"containerPort": 8080}],
                "resources": {"requests": {"cpu": "50m", "memory": "32Mi"},
                              "limits": {"cpu": "2", "memory": "256Mi"}},
                "readinessProbe": {"httpGet": {"path": "/-/readyz", "port": 8080}, "periodSeconds": 1},
                "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}]}],
                "volumes": [{"name": "config", "configMap": {"name": f"{name}-config"}}]}}},
    }


def scenario_doc(namespace: str, *, workload: str = "deployment/web", key: str = "config.yaml",
                 configmap: str = "web-config", faults: list[dict[str, Any]] | None = None,
                 load_options: dict[str, Any] | None = None, oracles: list[str] | None = None,
                 users: int = 4, observe_s: float = 3, baseline_s: float = 2, worker_pods: int = 0,
                 service: str | None = None) -> dict[str, Any]:
    """A scenario on the team's `workload` in `namespace`: configd's load, these faults and oracles."""
    doc = {
        "name": "shop-web",
        "targets": [{
            "name": "web",
            "deployed": {"namespace": namespace, "workload": workload, "port": 8080,
                         "config": {"configmap": configmap, "key": key},
                         **({"service": service} if service else {})},
            "format": "yaml", "version_key": "version", "version_header": "X-Config-Version",
            "version_endpoint": "/-/config", "ready_path": "/-/readyz"}],
        "load": {"user": "configd", "users": users, "spawn_rate": 50, "worker_pods": worker_pods,
                 "options": {"configd": load_options or {"routes": ["/", "/hello"]}}},
        "windows": {"baseline_s": baseline_s, "observe_s": observe_s},
        "faults": faults or [],
        "oracles": ["panics", "rollback"] if oracles is None else oracles,
    }
    return doc


def write_scenario(tmp_path: Path, namespace: str, **options: Any) -> Path:
    """`scenario_doc` written to a file, as a team keeps it."""
    path = tmp_path / "shop.chaos.yaml"
    path.write_text(yaml.safe_dump(scenario_doc(namespace, **options), sort_keys=False), encoding="utf-8")
    return path


def deploy_team(api: Any, namespace: str, image: str) -> None:
    """Both builds with their ConfigMaps and Services in `namespace` (which exists), once their pods are ready."""
    from kubernetes import client as client_module

    client: Any = client_module
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_namespaced_secret(namespace, {"metadata": {"name": "agent"}, "stringData": {"token": AGENT_TOKEN}})
    for name, flags in BUILDS.items():
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"{name}-config"},
                                                      "data": {"config.yaml": CONFIG}})
        apps.create_namespaced_deployment(namespace, team_deployment(name, image, flags))
        core.create_namespaced_service(namespace, {"metadata": {"name": name}, "spec": {  # port 80, as teams do
            "selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}})

    def rolled_out() -> bool:
        return all((apps.read_namespaced_deployment_status(n, namespace).status.ready_replicas or 0) >= 1
                   for n in BUILDS)

    assert wait_until(rolled_out, timeout_s=120, interval_s=1), "the team's deployments did not become ready"
