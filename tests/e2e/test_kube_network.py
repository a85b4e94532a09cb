"""Network faults on a real kind cluster: kvd's pod gets chaosproxy as a native sidecar holding its etcd-client links
and its load link, and the faults put on them through a port-forward land, measured, in the run's report (the etcd
links timed by GET /version probes through a port-forward to each link in the pod)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chaos.platform.kubernetes.cluster.kind import KindCluster
from chaos.timeline import EventKind

pytestmark = [pytest.mark.kubernetes]

REPO = Path(__file__).resolve().parents[2]
SCENARIO = """
name: kube-network
targets: [{bundled: kvd, flags: {ctx_mode: isolated, request_timeout: 500ms}}]
etcd: {members: 3}
load: {users: 5, spawn_rate: 50}
windows: {baseline_s: 3, observe_s: 2}
faults:
  - {injector: network, target: kvd, params: {link: load, fault: delay, latency_ms: 50, direction: upstream,
                                              duration_s: 3}}
  - {injector: network, target: kvd, at_s: 4, params: {link: etcd-client, fault: delay, latency_ms: 40,
                                                       direction: both, duration_s: 3}}
oracles: [panics, {recovery: {bound_s: 5}}]
"""


def _events(report: dict[str, Any], kind: EventKind) -> list[dict[str, Any]]:
    return [e for e in report["events"] if e["kind"] == kind.value]


def test_a_deployed_pods_sidecar_carries_its_etcd_and_load_links_and_the_delays_land(
        gochaos_kind_cluster: KindCluster, kind_binary: str, tmp_path: Path) -> None:
    scenario = tmp_path / "kube-network.chaos.yaml"
    scenario.write_text(SCENARIO)
    env = {**os.environ, "GOCHAOS_KIND": kind_binary, "COLUMNS": "160"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "chaos.cli", "run", str(scenario), "--platform", "kubernetes",
                           "--kind-cluster", gochaos_kind_cluster.name, "--report-dir", str(tmp_path / "r")],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=600, check=False)
    print(f"gochaos run kube-network --platform kubernetes: {time.monotonic() - started:.1f}s\n{done.stdout}"
          f"{done.stderr}")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    load_fault, etcd_fault = report["faults"]
    assert load_fault["landed"], load_fault["summary"]
    assert load_fault["details"]["measured_by"] == "the load's requests", load_fault
    # the load's own latency moves with the machine (a closed loop on 2 cores): the added share, not the ms
    assert 0.7 <= load_fault["details"]["observed_share"] <= 1.3, load_fault["summary"]
    assert etcd_fault["landed"], etcd_fault["summary"]
    assert etcd_fault["details"]["links"] == [f"etcd-client.kvd.etcd-{i}" for i in range(3)]
    assert etcd_fault["details"]["measured_by"] == "GET /version probes through the link", etcd_fault  # forwarded
    assert 0.5 <= etcd_fault["details"]["observed_share"] <= 1.5, etcd_fault["summary"]  # a port-forward is coarse
    links = {e["source"]: e["details"] for e in _events(report, EventKind.NETWORK_LINK)}
    assert sorted(links) == ["etcd-client.kvd.etcd-0", "etcd-client.kvd.etcd-1", "etcd-client.kvd.etcd-2",
                             "load.kvd"]
    assert links["load.kvd"]["upstream"] == "127.0.0.1:8081" and links["load.kvd"]["proxy_pid"] is None
    assert links["etcd-client.kvd.etcd-1"]["upstream"] == "etcd-1.etcd:2379"
    removed = _events(report, EventKind.NETWORK_FAULT_REMOVED)
    assert [[r["kind"] for r in e["details"]["removed"]] for e in removed] == [["delay"], ["delay"] * 3]
