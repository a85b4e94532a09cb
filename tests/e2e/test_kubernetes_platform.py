"""The Kubernetes platform on a real kind cluster: no mocks, the same oracles as on local processes.

Uses the session `gochaos_kind_cluster` of tests/e2e/conftest.py (an offline-built node image) and
reaches it through `chaos.platform.kubernetes.cluster.cluster.connect` the way `gochaos --kind-cluster NAME` does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from chaos.build import Binaries
from chaos.injectors import create
from chaos.injectors.base import InjectionContext, run_fault
from chaos.observe.readiness import wait_until
from chaos.oracles.context import OracleContext, Phases
from chaos.oracles.panics import PanicsParams
from chaos.oracles.panics import check as panics_check
from chaos.platform.kubernetes.cluster.cluster import ClusterAccess, KubernetesOptions, connect
from chaos.platform.kubernetes.cluster.kind import KindCluster
from chaos.platform.kubernetes.platform import KubernetesPlatform
from chaos.targets import bundled, chaosagent_env
from chaos.timeline import EventKind, Timeline, now_ns
from chaos.verdict import Status

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Api, V1Namespace

pytestmark = [pytest.mark.kubernetes]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster(gochaos_kind_cluster: KindCluster, kind_binary: str) -> Iterator[ClusterAccess]:
    """The session's kind cluster, opened as gochaos opens a reused one (never deleted here)."""
    previous = os.environ.get("GOCHAOS_KIND")
    os.environ["GOCHAOS_KIND"] = kind_binary
    access = connect(KubernetesOptions(kind_cluster=gochaos_kind_cluster.name))
    try:
        yield access
    finally:
        access.close()
        if previous is None:
            os.environ.pop("GOCHAOS_KIND", None)
        else:
            os.environ["GOCHAOS_KIND"] = previous


@pytest.fixture
def timeline() -> Timeline:
    return Timeline()


@pytest.fixture
def platform(cluster: ClusterAccess, timeline: Timeline) -> Iterator[KubernetesPlatform]:
    kube = KubernetesPlatform(timeline=timeline, cluster=cluster, binaries=Binaries())
    try:
        yield kube
    finally:
        kube.close()
        assert not _run_namespaces(cluster, kube.run_id), "the run's namespace outlived close()"


def _run_namespaces(cluster: ClusterAccess, run_id: str) -> list[str]:
    from kubernetes import client

    return _names(client.CoreV1Api(cluster.api).list_namespace(label_selector=f"gochaos.io/run={run_id}").items)


def _names(namespaces: list[V1Namespace], *, terminating: bool = True) -> list[str]:
    """The namespaces' names (leaving out those being deleted unless `terminating`)."""
    return [ns.metadata.name for ns in namespaces if ns.metadata is not None and ns.metadata.name is not None
            and (terminating or ns.status is None or ns.status.phase != "Terminating")]


def _pod_uid(core: CoreV1Api, name: str, namespace: str) -> str | None:
    metadata = core.read_namespaced_pod(name, namespace).metadata
    return metadata.uid if metadata is not None else None


def test_configd_runs_in_a_labelled_namespace_and_answers_on_loopback(platform: KubernetesPlatform,
                                                                      cluster: ClusterAccess) -> None:
    started = time.monotonic()
    target = platform.start_target(bundled("configd"))
    ready_s = time.monotonic() - started
    assert target.endpoint.host == "127.0.0.1"
    reply = requests.get(target.endpoint.url + "/-/config", timeout=2)
    assert reply.json()["version"] == "1"
    assert _run_namespaces(cluster, platform.run_id) == [platform.namespace]
    assert any("listening" in line.text or "config" in line.text for line in target.logs()), target.logs()
    print(f"configd ready on the cluster in {ready_s:.1f}s")


def test_reload_storm_writes_reach_the_pod_at_100ms_intervals(platform: KubernetesPlatform,
                                                               timeline: Timeline) -> None:
    target = platform.start_target(bundled("configd"))
    storm = create("reload_storm", {"pattern": "value", "rounds": 10, "interval_ms": 100}, "configd")
    report = run_fault(storm, InjectionContext(platform=platform, timeline=timeline), 1)
    live = [e for e in timeline.events(kind=EventKind.RELOAD_LIVE) if e.details["version"] != "1"]
    assert report.outcome.landed, report.outcome.summary
    intervals = report.outcome.details["achieved_intervals_ms"]
    assert max(intervals) < 150, intervals
    assert len(live) >= 5, f"only {len(live)} of 10 versions were seen live: {report.outcome.summary}"
    first_write = min(e.t_ns for e in timeline.events(kind=EventKind.RELOAD_WRITE))
    assert (live[0].t_ns - first_write) / 1e6 < 1000, "the first write took over a second to reach the pod"
    assert target.restarts == 0


def test_reload_storm_through_the_configmap_api_reaches_the_pod_through_the_kubelet(
        platform: KubernetesPlatform, timeline: Timeline) -> None:
    from kubernetes import client

    storm = create("reload_storm", {"pattern": "value", "rounds": 3, "interval_ms": 3000,
                                    "write_mode": "configmap-api", "settle_ms": 20000}, "configd")
    spec = storm.shape_target(bundled("configd"))
    target = platform.start_target(spec)
    assert target.config_path is None, "the config must come from the ConfigMap, not the shared directory"
    deployment = client.AppsV1Api(platform.cluster.api).read_namespaced_deployment("configd", platform.namespace)
    assert deployment.spec is not None and deployment.spec.template.spec is not None
    volumes = deployment.spec.template.spec.volumes or []
    assert [v.config_map.name if v.config_map else None for v in volumes if v.name == "config"] == ["configd-config"]
    report = run_fault(storm, InjectionContext(platform=platform, timeline=timeline), 1)
    assert report.outcome.landed, report.outcome.summary
    writes = [w for w in timeline.events(kind=EventKind.RELOAD_WRITE) if w.details["mutation"] != "revert"]
    assert [w.details["mode"] for w in writes] == ["configmap-api"] * 3
    live_after = report.outcome.details["live_after_ms"]
    print(f"ConfigMap update to the pod serving it: {live_after} ms")
    assert live_after and all(0 < ms < 15_000 for ms in live_after), live_after
    assert spec.config is not None
    assert target.read_config() == spec.config.initial  # reverted through the API
    assert target.restarts == 0


def test_a_panicking_container_is_judged_with_its_previous_logs_and_restart_count(
        platform: KubernetesPlatform, timeline: Timeline) -> None:
    target = platform.start_target(bundled("configd", reload_strategy="unsafe"),
                                   extra_env=chaosagent_env("t"))
    faults_start = now_ns()
    storm = create("reload_storm", {"pattern": "incident", "rounds": 8, "interval_ms": 400}, "configd")
    run_fault(storm, InjectionContext(platform=platform, timeline=timeline), 1)
    assert wait_until(lambda: target.restarts >= 1 and bool(target.exits()), timeout_s=30), (
        f"no restart seen; last lines: {[line.text for line in target.logs()][-5:]}")
    finding = panics_check(OracleContext([target], timeline, Phases(faults_start, faults_start, now_ns(), now_ns())),
                           PanicsParams())
    assert finding.status is Status.FAIL
    assert finding.figures["restarts"] >= 1
    crash = finding.summary.split(";")[0]
    assert "panic" in crash or "fatal error" in crash, finding.summary
    first_exit = target.exits()[0]
    assert first_exit.returncode == 2 and not first_exit.requested, first_exit
    crashed = [line for line in target.logs() if line.incarnation == first_exit.incarnation]
    assert any(line.text.startswith(("panic: ", "fatal error: ")) for line in crashed)
    assert any(line.text.startswith("goroutine ") for line in crashed), "the crash's stack was lost"
    assert [e for e in timeline.events(kind=EventKind.TARGET_EXIT) if e.details["returncode"] == 2]


def _print_etcd_logs(core: Any, namespace: str, size: int) -> None:
    """What each member said last (current and previous container), for a failure's report."""
    for i in range(size):
        for previous in (False, True):
            try:
                text = core.read_namespaced_pod_log(f"etcd-{i}", namespace, previous=previous, tail_lines=25)
            except Exception as e:  # no previous container is the common case
                text = f"({e.__class__.__name__})"
            print(f"--- etcd-{i}{' (previous)' if previous else ''}\n{text}")


def test_etcd_statefulset_loses_its_leader_every_way_kubernetes_allows(platform: KubernetesPlatform,
                                                                      timeline: Timeline) -> None:
    """move, pause, isolate, kill and delete on real etcd pods; each elects another leader, the member comes back."""
    from kubernetes import client

    etcd = platform.start_etcd(size=3)
    core = client.CoreV1Api(platform.cluster.api)
    ids = {member.name: member.member_id for member in etcd.members}
    assert len(set(ids.values())) == 3 and etcd.endpoints.startswith("http://etcd-0.etcd:2379,")
    ctx = InjectionContext(platform=platform, timeline=timeline, etcd=etcd)
    modes = ("move", "pause", "isolate", "kill", "delete")
    assert [etcd.unavailable(mode) for mode in modes] == [None] * 5
    for mode in modes:
        old_leader, _ = etcd.wait_for_leader()
        pod_uid = _pod_uid(core, old_leader.name, platform.namespace)
        fault = create("leader_loss", {"mode": mode, "duration_s": 0.5}, None)
        report = run_fault(fault, ctx, 1)
        if not report.outcome.landed:
            _print_etcd_logs(core, platform.namespace, len(etcd.members))
        assert report.outcome.landed, (mode, report)
        details = report.outcome.details
        assert details["old_leader"] == old_leader.name and details["term"][1] > details["term"][0], details
        if mode != "kill":  # a killed leader's container is restarted at once and may win the election again
            assert details["new_leader"] != old_leader.name, details
        assert all(etcd.ask_status(member) is not None for member in etcd.members), f"{mode}: a member stayed out"
        same_pod = _pod_uid(core, old_leader.name, platform.namespace) == pod_uid
        assert same_pod is (mode != "delete"), f"{mode}: pod replaced={not same_pod}"
    # a deleted pod came back as the same member, on its own data
    statuses = {member.name: etcd.ask_status(member) for member in etcd.members}
    assert {name: status.member_id if status else None for name, status in statuses.items()} == ids
    kinds = [event.kind for event in timeline.events() if event.kind.startswith("etcd.")]
    for expected in ("etcd.pause", "etcd.resume", "etcd.isolate", "etcd.heal", "etcd.kill", "etcd.delete",
                     "etcd.restart", "etcd.leader"):
        assert expected in kinds, kinds
    etcd.stop()


def test_gc_pressure_hog_is_a_pod_on_the_targets_node_and_is_gone_after(platform: KubernetesPlatform,
                                                                        timeline: Timeline) -> None:
    from kubernetes import client

    platform.start_target(bundled("allocd"))
    fault = create("gc_pressure", {"method": "hog", "hog_mb": 128, "hog_cpu": False, "duration_s": 2}, "allocd")
    report = run_fault(fault, InjectionContext(platform=platform, timeline=timeline), 1)
    assert report.outcome.landed, report.outcome.summary
    assert report.outcome.details["hog_peak_mb"] >= 115
    assert re.fullmatch(r"pod hog-allocd on node \S+-control-plane", report.outcome.details["hog"])
    core = client.CoreV1Api(platform.cluster.api)
    assert wait_until(lambda: not core.list_namespaced_pod(platform.namespace,
                                                           label_selector="app.kubernetes.io/name=hog").items,
                      timeout_s=30, interval_s=0.2), "the hog pod outlived the fault"


@pytest.mark.parametrize(("command", "scenario", "code", "expect"), [
    ("run", "gate", 0, "gate: 4 scenarios, reload-panic pass, cache-map-race pass, etcd-leader-loss pass, "
                       "gc-pressure pass -> PASS"),
    ("reproduce", "reload-panic", 1, r"panics\W+FAIL\W+configd: (panic|fatal error):"),
    ("reproduce", "cache-map-race", 1, r"panics\W+FAIL\W+configd: (WARNING: DATA RACE|fatal error: concurrent map)"),
    ("reproduce", "gc-pressure", 1, r"leaks\W+FAIL"),
    ("reproduce", "etcd-leader-loss", 1, r"recovery\W+FAIL\W+never recovered"),
])
def test_bundled_scenarios_on_kubernetes_give_the_local_verdicts(gochaos_kind_cluster: KindCluster, kind_binary: str,
                                                                  tmp_path: Path, command: str, scenario: str,
                                                                  code: int, expect: str) -> None:
    env = {**os.environ, "GOCHAOS_KIND": kind_binary, "COLUMNS": "160"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "chaos.cli", command, scenario, "--platform", "kubernetes",
                           "--kind-cluster", gochaos_kind_cluster.name, "--report-dir", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=600, check=False)
    print(f"gochaos {command} {scenario} --platform kubernetes: {time.monotonic() - started:.1f}s\n{done.stdout}"
          f"{done.stderr}")
    assert done.returncode == code, done.stdout + done.stderr
    assert re.search(expect, " ".join((done.stdout + done.stderr).split())), expect


def _signal_run_once_loaded(cluster_name: str, env: dict[str, str], sig: int) -> tuple[int, str]:
    """Start `gochaos run reload-panic` on the cluster, send `sig` once its load starts; (exit code, output)."""
    run = subprocess.Popen([sys.executable, "-m", "chaos.cli", "run", "reload-panic", "--platform", "kubernetes",
                            "--kind-cluster", cluster_name, "--no-report"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)
    output = []
    try:
        assert run.stdout is not None
        for line in run.stdout:
            output.append(line)
            if "starting load" in line:
                break
        run.send_signal(sig)
        rest, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    return run.returncode, "".join(output) + rest


def test_ctrl_c_mid_run_leaves_no_namespace_behind(gochaos_kind_cluster: KindCluster, kind_binary: str,
                                                   cluster: ClusterAccess) -> None:
    import signal

    from kubernetes import client

    code, output = _signal_run_once_loaded(gochaos_kind_cluster.name, {**os.environ, "GOCHAOS_KIND": kind_binary},
                                           signal.SIGINT)
    assert code == 130, output
    assert "interrupted" in output
    left = client.CoreV1Api(cluster.api).list_namespace(label_selector="app.kubernetes.io/managed-by=gochaos").items
    assert _names(left, terminating=False) == []
    assert not _names(left), "the interrupted run's namespace is still terminating"


def test_a_killed_run_leaves_its_namespace_to_the_next_clean_up(gochaos_kind_cluster: KindCluster, kind_binary: str,
                                                                 cluster: ClusterAccess, tmp_path: Path) -> None:
    """SIGKILL runs no `finally`: the state file names the namespace and `gochaos cleanup` deletes it."""
    import signal

    from kubernetes import client

    env = {**os.environ, "GOCHAOS_KIND": kind_binary, "GOCHAOS_STATE_DIR": str(tmp_path / "state")}
    code, output = _signal_run_once_loaded(gochaos_kind_cluster.name, env, signal.SIGKILL)
    assert code == -signal.SIGKILL, output
    core = client.CoreV1Api(cluster.api)
    selector = "app.kubernetes.io/managed-by=gochaos"
    left = _names(core.list_namespace(label_selector=selector).items, terminating=False)
    assert len(left) == 1, output
    done = subprocess.run([sys.executable, "-m", "chaos.cli", "cleanup"], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"namespace {left[0]}" in done.stdout + done.stderr and "deleted" in done.stdout + done.stderr
    assert wait_until(lambda: not core.list_namespace(label_selector=selector).items, timeout_s=60, interval_s=0.5)
