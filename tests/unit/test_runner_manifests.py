"""manifests/runner: the CronJob a team applies to schedule gochaos in its cluster, held to what runs need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from chaos.platform.kubernetes.cluster.cluster import runs_in_cluster
from chaos.platform.kubernetes.cluster.manifest_files import load_kustomization, manifests_dir
from chaos.platform.kubernetes.deployed.deployed import needs
from chaos.platform.kubernetes.workloads.load_workers import POD_VERBS
from chaos.targets import Deployed

RUNNER = manifests_dir() / "runner"


def _docs() -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in load_kustomization(RUNNER)}


def test_the_runner_may_keep_worker_pods_in_its_own_namespace_and_nothing_more() -> None:
    docs = _docs()
    [rule] = docs["Role"]["rules"]
    assert (rule["apiGroups"], rule["resources"], tuple(rule["verbs"])) == ([""], ["pods"], POD_VERBS)
    assert docs["RoleBinding"]["roleRef"]["name"] == docs["Role"]["metadata"]["name"]


def test_the_job_s_status_is_the_verdict_and_a_failure_is_not_retried() -> None:
    spec = _docs()["CronJob"]["spec"]
    assert spec["concurrencyPolicy"] == "Forbid", "two scheduled runs must never storm the same service"
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0 and job["template"]["spec"]["restartPolicy"] == "Never"


def test_the_runner_runs_the_mounted_scenario_on_kubernetes_and_keeps_reports_and_state_on_its_volume() -> None:
    pod = _docs()["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    args = container["args"]
    assert args[0] == "run" and Path(args[1]).parent == Path(mounts["scenario"])
    assert volumes["scenario"]["configMap"]["name"] == "gochaos-scenario"
    assert args[args.index("--platform") + 1] == "kubernetes"
    assert args[args.index("--report-dir") + 1] == mounts["reports"]
    assert volumes["reports"]["persistentVolumeClaim"]["claimName"] == _docs()["PersistentVolumeClaim"]["metadata"][
        "name"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert Path(env["GOCHAOS_STATE_DIR"]).is_relative_to(mounts["reports"]), "a killed run's state outlives its pod"
    assert container["securityContext"]["readOnlyRootFilesystem"] and mounts["tmp"] == "/tmp"


def test_the_runner_s_identity_is_the_one_the_shipped_rbac_binds() -> None:
    docs = _docs()
    namespace = yaml.safe_load((RUNNER / "kustomization.yaml").read_text(encoding="utf-8"))["namespace"]
    account = docs["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["serviceAccountName"]
    assert docs["ServiceAccount"]["metadata"]["name"] == account
    binding = yaml.safe_load((manifests_dir() / "rbac" / "rolebinding.yaml").read_text(encoding="utf-8"))
    subjects = [*binding["subjects"], *docs["ClusterRoleBinding"]["subjects"], *docs["RoleBinding"]["subjects"]]
    assert all(s == {"kind": "ServiceAccount", "name": account, "namespace": namespace} for s in subjects), subjects


def test_a_run_inside_the_cluster_asks_for_no_port_forward() -> None:
    deployed = Deployed.model_validate({"namespace": "shop", "workload": "deployment/web", "port": 8080})
    outside = {str(n) for n in needs(deployed)}
    inside = {str(n) for n in needs(deployed, port_forward=False)}
    assert outside - inside == {"create pods/portforward in namespace shop"}
    assert not runs_in_cluster(), "these unit tests run outside any pod"
