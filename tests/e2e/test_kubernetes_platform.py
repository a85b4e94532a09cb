"""The Kubernetes platform on a real kind cluster: no mocks, the same oracles as on local processes.

Uses the session `kind_cluster` of tests/e2e/conftest.py (an offline-built node image) and
reaches it through `chaos.platform.cluster.connect` the way `gochaos --kind-cluster NAME` does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from chaos.build import Binaries
from chaos.injectors.base import InjectionContext, create, run_fault
from chaos.oracles.context import OracleContext, Phases
from chaos.oracles.panics import PanicsParams
from chaos.oracles.panics import check as panics_check
from chaos.platform.cluster import ClusterAccess, KubernetesOptions, connect
from chaos.platform.kubernetes import KubernetesPlatform
from chaos.readiness import wait_until
from chaos.targets import bundled, chaosagent_env
from chaos.timeline import Timeline, now_ns
from chaos.verdict import Status

pytestmark = [pytest.mark.kubernetes]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster(kind_cluster: Any, kind_binary: str) -> Iterator[ClusterAccess]:
    """The session's kind cluster, opened as gochaos opens a reused one (never deleted here)."""
    previous = os.environ.get("GOCHAOS_KIND")
    os.environ["GOCHAOS_KIND"] = kind_binary
    access = connect(KubernetesOptions(kind_cluster=kind_cluster.name))
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

    items = client.CoreV1Api(cluster.api).list_namespace(label_selector=f"gochaos.io/run={run_id}").items
    return [ns.metadata.name for ns in items]


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
    live = [e for e in timeline.events(kind="reload.live") if e.details["version"] != "1"]
    assert report.outcome.landed, report.outcome.summary
    intervals = report.outcome.details["achieved_intervals_ms"]
    assert max(intervals) < 150, intervals
    assert len(live) >= 5, f"only {len(live)} of 10 versions were seen live: {report.outcome.summary}"
    first_write = min(e.t_ns for e in timeline.events(kind="reload.write"))
    assert (live[0].t_ns - first_write) / 1e6 < 1000, "the first write took over a second to reach the pod"
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
    assert [e for e in timeline.events(kind="target.exit") if e.details["returncode"] == 2]


@pytest.mark.parametrize(("command", "scenario", "code", "expect"), [
    ("run", "reload-panic", 0, "verdict: PASS"),
    ("reproduce", "reload-panic", 1, r"panics\W+FAIL\W+configd: (panic|fatal error):"),
    ("run", "cache-map-race", 0, "verdict: PASS"),
    ("reproduce", "cache-map-race", 1, r"panics\W+FAIL\W+configd: (WARNING: DATA RACE|fatal error: concurrent map)"),
    ("run", "gc-pressure", 0, "verdict: PASS"),
    ("reproduce", "gc-pressure", 1, r"leaks\W+FAIL"),
    ("run", "etcd-leader-loss", 3, r"etcd on the Kubernetes platform \(manifests/etcd StatefulSet\) is not supported"),
])
def test_bundled_scenarios_on_kubernetes_give_the_local_verdicts(kind_cluster: Any, kind_binary: str, tmp_path: Path,
                                                                  command: str, scenario: str, code: int,
                                                                  expect: str) -> None:
    env = {**os.environ, "GOCHAOS_KIND": kind_binary, "COLUMNS": "160"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "chaos.cli", command, scenario, "--platform", "kubernetes",
                           "--kind-cluster", kind_cluster.name, "--report-dir", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=300, check=False)
    print(f"gochaos {command} {scenario} --platform kubernetes: {time.monotonic() - started:.1f}s\n{done.stdout}"
          f"{done.stderr}")
    assert done.returncode == code, done.stdout + done.stderr
    assert re.search(expect, " ".join((done.stdout + done.stderr).split())), expect


def test_ctrl_c_mid_run_leaves_no_namespace_behind(kind_cluster: Any, kind_binary: str, cluster: ClusterAccess) -> None:
    import signal

    from kubernetes import client

    env = {**os.environ, "GOCHAOS_KIND": kind_binary}
    run = subprocess.Popen([sys.executable, "-m", "chaos.cli", "run", "reload-panic", "--platform", "kubernetes",
                            "--kind-cluster", kind_cluster.name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, env=env, cwd=REPO)
    output = []
    try:
        assert run.stdout is not None
        for line in run.stdout:
            output.append(line)
            if "starting load" in line:
                break
        run.send_signal(signal.SIGINT)
        rest, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, "".join(output) + rest
    assert "interrupted" in rest
    left = client.CoreV1Api(cluster.api).list_namespace(label_selector="app.kubernetes.io/managed-by=gochaos").items
    assert [ns.metadata.name for ns in left if ns.status.phase != "Terminating"] == []
    assert not [ns.metadata.name for ns in left], "the interrupted run's namespace is still terminating"
