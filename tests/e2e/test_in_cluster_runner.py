"""gochaos scheduled inside the cluster: the runner image and manifests/runner's CronJob, applied as a team would.

The test plays the platform team: it builds the runner image (Debian + Python + this checkout, no
base image), loads it into kind, and applies manifests/runner through a kustomize overlay of its own
(image tag, an every-minute schedule, the scenario ConfigMap) with kubectl, plus manifests/rbac's
Role in the team's namespace. Storage is a hostPath PersistentVolume on the kind node, standing in
for the cluster's storage class; the test reads the reports through it.

The runner then has only its ServiceAccount: it reaches the team's pods over the pod network, and
its Job's status is the verdict: Complete on a pass, Failed on a fail. Deleting its pod (SIGTERM, as
an eviction does) reverts the storm it was in the middle of.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kind_offline import DockerEngine, ensure_runner_image
from kind_offline.kubernetes_build import build_all
from kind_offline.local_images import kind_load
from kind_offline.locations import CacheLayout
from team_service import CONFIG, deploy_team, scenario_doc

from chaos.build import Binaries
from chaos.observe.readiness import wait_until
from chaos.platform.kubernetes.cluster.cluster import ClusterAccess, KubernetesOptions, connect
from chaos.platform.kubernetes.cluster.images import ensure_image, load_into_kind
from chaos.platform.kubernetes.cluster.kind import KindCluster, KindNode
from chaos.platform.kubernetes.cluster.manifest_files import manifests_dir
from chaos.platform.kubernetes.cluster.rights import OPT_IN_LABEL, OPT_IN_VALUE

pytestmark = [pytest.mark.kubernetes]

RUNNER_NAMESPACE = "gochaos"  # manifests/runner's own
#: One config the service takes; the kubelet's ConfigMap sync (up to ~3 s on kind) fits in the settle time.
ACCEPTED = {"name": "promo-route", "label": "structural", "expect": "accept",
            "patch": {"version": "2", "http": {"routes": {"/promo": {"status": 200, "body": "promo\n"}}}}}


@dataclass
class Staging:
    """The team's namespace and service, the runner installed from manifests/runner, and its reports."""

    team: str
    access: ClusterAccess
    node: KindNode
    kubectl: Path
    overlay: Path
    reports: Path  # the reports volume, as this host sees it

    def kubectl_run(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run([str(self.kubectl), "--kubeconfig", str(self.access.kubeconfig), *args],
                                capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    def api(self, kind: str) -> Any:
        from kubernetes import client as client_module

        client: Any = client_module
        return getattr(client, kind)(self.access.api)

    def config_map(self) -> str:
        return str(self.api("CoreV1Api").read_namespaced_config_map("web-config", self.team).data["config.yaml"])

    def set_scenario(self, doc: dict[str, Any]) -> None:
        """The scenario the runner's next Job reads, as `kubectl apply -k` of the overlay writes it."""
        (self.overlay / "scenario.chaos.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        self.kubectl_run("apply", "-k", str(self.overlay))

    def run_job(self, name: str) -> None:
        """A Job from the CronJob's template now, as `kubectl create job --from` does for a manual run."""
        self.kubectl_run("-n", RUNNER_NAMESPACE, "create", "job", name, "--from=cronjob/gochaos")

    def finished(self, name: str, timeout_s: float = 300) -> str:
        """Complete or Failed, once Job `name` has one of them."""
        batch = self.api("BatchV1Api")
        seen: list[str] = []

        def done() -> bool:
            status = batch.read_namespaced_job_status(name, RUNNER_NAMESPACE).status
            seen[:] = [c.type for c in status.conditions or [] if c.status == "True" and c.type in
                       ("Complete", "Failed")]
            return bool(seen)

        assert wait_until(done, timeout_s=timeout_s, interval_s=2), f"Job {name} did not finish: {self.logs(name)}"
        return seen[0]

    def storming(self, job: str) -> Any:
        """Job `job` in the middle of a long storm on the team's ConfigMap; its runner pod."""
        self.set_scenario(scenario_doc(self.team, faults=_storm(40, 2000, 15000), observe_s=1))
        self.run_job(job)
        assert wait_until(lambda: self.config_map() != CONFIG, timeout_s=120, interval_s=0.5), \
            f"the storm never wrote the ConfigMap: {self.logs(job)}"
        [pod] = self.api("CoreV1Api").list_namespaced_pod(RUNNER_NAMESPACE, label_selector=f"job-name={job}").items
        return pod

    def logs(self, job: str) -> str:
        core = self.api("CoreV1Api")
        pods = core.list_namespaced_pod(RUNNER_NAMESPACE, label_selector=f"job-name={job}").items
        return "\n".join(str(core.read_namespaced_pod_log(p.metadata.name, RUNNER_NAMESPACE))[-4000:] for p in pods)

    def report(self, started_after: float) -> dict[str, Any]:
        """The report.json of the one run that began after `started_after` (host time)."""
        fresh = [p for p in self.reports.glob("*/report.json") if p.stat().st_mtime >= started_after
                 and not p.parent.is_symlink()]
        assert len(fresh) == 1, f"expected one new run in the reports volume, got {fresh}"
        document: dict[str, Any] = json.loads(fresh[0].read_text())
        return document


def _runner_overlay(folder: Path, tag: str) -> Path:
    """A team's kustomize overlay of manifests/runner: its image, an every-minute schedule, its scenario."""
    name, _, version = tag.rpartition(":")
    folder.mkdir(parents=True)
    (folder / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [os.path.relpath(manifests_dir() / "runner", folder)],  # kustomize takes relative paths only
        "images": [{"name": "gochaos/runner", "newName": name, "newTag": version}],
        "patches": [{"target": {"kind": "CronJob", "name": "gochaos"},
                     "patch": json.dumps([{"op": "replace", "path": "/spec/schedule", "value": "* * * * *"}])}],
        "configMapGenerator": [{"name": "gochaos-scenario", "namespace": RUNNER_NAMESPACE,
                                "files": ["scenario.chaos.yaml"], "options": {"disableNameSuffixHash": True}}],
    }, sort_keys=False), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def staging(gochaos_kind_cluster: KindCluster, docker_engine: DockerEngine, kind_binary: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staging]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GOCHAOS_KIND", kind_binary)
        yield from _staging(gochaos_kind_cluster, docker_engine, kind_binary, tmp_path_factory)


def _staging(gochaos_kind_cluster: KindCluster, docker_engine: DockerEngine, kind_binary: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staging]:
    from kubernetes import client as client_module

    client: Any = client_module
    access = connect(KubernetesOptions(kind_cluster=gochaos_kind_cluster.name))
    core = client.CoreV1Api(access.api)
    node = access.node
    assert node is not None
    suffix = secrets.token_hex(3)
    host_dir, node_dir = node.shared_dir()
    reports = host_dir / f"runner-reports-{suffix}"
    volume = f"gochaos-reports-{suffix}"
    work = tmp_path_factory.mktemp("staging")
    staging = Staging(f"team-{suffix}", access, node, build_all(CacheLayout.default())["kubectl"],
                      _runner_overlay(work / "overlay", ensure_runner_image(docker_engine)), reports)
    try:
        kind_load(docker_engine, kind=Path(kind_binary), cluster=gochaos_kind_cluster.name,
                  tag=ensure_runner_image(docker_engine))
        image = ensure_image(node.docker, Binaries(), "configd")
        load_into_kind(image, gochaos_kind_cluster.name)
        core.create_namespace({"metadata": {"name": staging.team, "labels": {OPT_IN_LABEL: OPT_IN_VALUE}}})
        deploy_team(access.api, staging.team, image)
        rbac = manifests_dir() / "rbac"
        staging.kubectl_run("-n", staging.team, "apply", "-f", str(rbac / "role.yaml"), "-f",
                            str(rbac / "rolebinding.yaml"))
        reports.mkdir(parents=True)
        reports.chmod(0o777)  # the runner is uid 65532; a hostPath volume gets no fsGroup
        core.create_persistent_volume({"metadata": {"name": volume}, "spec": {
            "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": f"{node_dir}/{reports.name}"},
            "claimRef": {"namespace": RUNNER_NAMESPACE, "name": "gochaos-reports"}}})
        yield staging
    finally:
        for step in (lambda: staging.kubectl_run("delete", "-k", str(staging.overlay), "--ignore-not-found",
                                                 "--wait=false"),
                     lambda: core.delete_namespace(staging.team),
                     lambda: core.delete_persistent_volume(volume)):
            try:
                step()
            except Exception as e:  # already gone is fine; anything else is shown, not hidden
                print(f"clean-up: {e}")
        subprocess.run(["rm", "-rf", str(reports)], check=False)
        access.close()


def _storm(rounds: int, interval_ms: int, settle_ms: int) -> list[dict[str, Any]]:
    return [{"injector": "reload_storm", "target": "web", "params": {
        "pattern": "variants", "rounds": rounds, "interval_ms": interval_ms, "settle_ms": settle_ms,
        "variants": [ACCEPTED]}}]


def test_the_cronjob_runs_the_scenario_in_the_cluster_and_its_job_completes_on_a_pass(staging: Staging) -> None:
    started = time.time()
    staging.set_scenario(scenario_doc(staging.team, faults=_storm(1, 1000, 15000)))
    batch = staging.api("BatchV1Api")
    scheduled: list[str] = []

    def cron_made_a_job() -> bool:
        jobs = batch.list_namespaced_job(RUNNER_NAMESPACE).items
        scheduled[:] = [j.metadata.name for j in jobs if any(o.kind == "CronJob" for o in
                                                             j.metadata.owner_references or [])]
        return bool(scheduled)

    assert wait_until(cron_made_a_job, timeout_s=90, interval_s=2), "the CronJob scheduled no Job within 90 s"
    staging.kubectl_run("-n", RUNNER_NAMESPACE, "patch", "cronjob", "gochaos", "--type=merge",
                        "-p", '{"spec":{"suspend":true}}')  # the other tests start their Jobs by hand
    job = scheduled[0]
    outcome = staging.finished(job)
    logs = staging.logs(job)
    print(logs[-2500:], f"scheduled Job {job}: {outcome} {time.time() - started:.0f}s after apply", sep="\n")
    assert outcome == "Complete", logs
    report = staging.report(started)
    assert report["verdict"] == "pass", report["findings"]
    start = next(e for e in report["events"] if e["kind"] == "target.start")
    assert start["details"]["via"] == "pod network", start
    storm = next(f for f in report["findings"] if f["check"] == "fault:reload_storm#1")
    assert storm["status"] == "pass" and storm["figures"]["writes_seen_live"] == [1], storm
    assert staging.config_map() == CONFIG, "the runner restored the team's ConfigMap"


def test_a_failing_verdict_fails_the_job(staging: Staging) -> None:
    started = time.time()
    staging.set_scenario(scenario_doc(
        staging.team, workload="deployment/web-racy", configmap="web-racy-config", oracles=["panics"], users=12,
        observe_s=15, load_options={"routes": ["/"], "route_weight": 1, "cache_get_weight": 4,
                                    "cache_put_weight": 4, "cache_keys": 8}))
    staging.run_job("racy")
    outcome = staging.finished("racy")
    logs = staging.logs("racy")
    print(logs[-2500:])
    assert outcome == "Failed", logs
    pod = staging.api("CoreV1Api").list_namespaced_pod(RUNNER_NAMESPACE, label_selector="job-name=racy").items[0]
    assert pod.status.container_statuses[0].state.terminated.exit_code == 1, "gochaos's exit code for a fail"
    report = staging.report(started)
    assert report["verdict"] == "fail"
    panics = next(f for f in report["findings"] if f["check"] == "panics")
    assert "concurrent map" in panics["summary"], panics["summary"]


def test_sigterm_of_the_runner_pod_reverts_the_storm_it_is_in(staging: Staging) -> None:
    pod = staging.storming("evicted")
    core = staging.api("CoreV1Api")
    deleted = time.monotonic()
    core.delete_namespaced_pod(pod.metadata.name, RUNNER_NAMESPACE)  # SIGTERM, as an eviction sends

    def exited() -> bool:
        found = core.list_namespaced_pod(RUNNER_NAMESPACE, label_selector="job-name=evicted").items
        statuses = [s for p in found for s in p.status.container_statuses or []]
        return not found or all(s.state.terminated is not None for s in statuses)

    assert wait_until(exited, timeout_s=130, interval_s=0.5), "the runner did not exit within its grace period"
    print(f"runner exited {time.monotonic() - deleted:.1f}s after its pod was deleted")
    assert staging.config_map() == CONFIG, "SIGTERM reverted the ConfigMap before the runner exited"
    assert staging.finished("evicted", timeout_s=60) == "Failed"


def test_a_sigkilled_runner_s_storm_is_reverted_by_the_next_scheduled_run(staging: Staging) -> None:
    """The node kills the runner outright (as the OOM killer would): no handler runs, its state stays on the
    reports volume, and the next Job, a new pod with a pid 1 of its own, sees that pod ended and restores."""
    import signal

    pod = staging.storming("killed")
    container_id = str(pod.status.container_statuses[0].container_id).partition("://")[2]
    staging.node.signal_container(container_id, signal.SIGKILL)
    assert staging.finished("killed", timeout_s=60) == "Failed"
    assert staging.config_map() != CONFIG, "nothing ran in the killed runner to restore it"

    started = time.time()
    staging.set_scenario(scenario_doc(staging.team, observe_s=1, oracles=["panics"]))
    staging.run_job("next")
    assert staging.finished("next") == "Complete", staging.logs("next")
    assert staging.config_map() == CONFIG, f"the next run restored the ConfigMap: {staging.logs('next')}"
    said = [line for line in staging.logs("next").splitlines()
            if "cleaned up after a dead run: ConfigMap" in line and line.endswith(": restored")]
    assert said, staging.logs("next")
    assert staging.report(started)["verdict"] == "pass"


def test_load_from_worker_pods_streams_every_request_onto_the_run_s_timeline(staging: Staging) -> None:
    started = time.time()
    staging.set_scenario(scenario_doc(staging.team, service="web", worker_pods=2, users=16, baseline_s=6,
                                      observe_s=1, oracles=["panics"]))
    staging.run_job("workers")
    outcome = staging.finished("workers")
    logs = staging.logs("workers")
    print(logs[-2500:])
    assert outcome == "Complete", logs
    report = staging.report(started)
    assert report["verdict"] == "pass", report["findings"]
    pods = next(e for e in report["events"] if e["kind"] == "load.start" and e["source"] == "load-workers")
    assert len(pods["details"]["pods"]) == 2, pods
    load = next(e for e in report["events"] if e["kind"] == "load.start" and e["source"] == "load")
    assert load["details"]["host"] == f"http://web.{staging.team}.svc:80", load
    baseline = report["load"]["baseline"]
    assert baseline["requests"] > 0 and baseline["errors"] == 0, baseline
    print(f"worker pods: {baseline['requests'] / 6:.0f} rps in the baseline window")
    left = staging.api("CoreV1Api").list_namespaced_pod(RUNNER_NAMESPACE, label_selector="gochaos.io/role=load-worker")
    assert not [p.metadata.name for p in left.items if p.metadata.deletion_timestamp is None], \
        "the run deleted its worker pods"
