"""The examples/ scenarios: real open-source Go services built from the Go module proxy at pinned
versions, each judged by a YAML-only scenario beside its real config. Their verdicts are stated
in the README; these tests hold the suite to them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(scenario: Path, tmp_path: Path, command: str = "run") -> tuple[int, dict[str, Any], str]:
    done = subprocess.run([sys.executable, "-m", "chaos.cli", command, str(scenario), "--report-dir",
                           str(tmp_path / command)], capture_output=True, text=True, timeout=900)
    report = json.loads((tmp_path / command / "report.json").read_text())
    return done.returncode, report, done.stdout + done.stderr


def test_coredns_reports_a_corefile_it_rejected_as_its_running_version(tmp_path: Path) -> None:
    """CoreDNS v1.12.1 serves DNS through every reload and keeps the last good Corefile when a bad one
    is written, but its `coredns_reload_version_info` then names the rejected Corefile while its log
    still names the running one: `rollback` fails on its own reports disagreeing."""
    code, report, out = run(EXAMPLES / "coredns" / "coredns.chaos.yaml", tmp_path)
    checks = {f["check"]: f for f in report["findings"]}
    assert checks["fault:reload_storm#1"]["status"] == "pass", out
    assert checks["panics"]["status"] == "pass" and checks["recovery"]["status"] == "pass", out
    rejected = [e for e in report["events"] if e["kind"] == "reload.rejected"]
    assert rejected and all(e["details"]["write"] == 3 for e in rejected), rejected  # the bad directive only
    dns = [r for r in report["events"] if r["kind"] == "load.start"]
    assert dns, "the DNS load never started"
    rollback = checks["rollback"]
    assert code == 1 and rollback["status"] == "fail", out
    assert "own reports disagree on which config is live" in rollback["summary"]
    assert "log says" in rollback["summary"] and "metrics says" in rollback["summary"]


def test_etcd_serves_its_grpc_kv_api_through_a_restart_with_gogc_5(tmp_path: Path) -> None:
    """etcd v3.6.16 built from the Go module proxy, driven over its own gRPC KV API (Put, linearizable
    and serializable Range, types from the example's .proto), ready by its grpc.health.v1 service at
    each of its three starts, restarted with GOGC=5 under load and back: it comes back within the
    recovery bound with no crash."""
    code, report, out = run(EXAMPLES / "etcd" / "etcd.chaos.yaml", tmp_path)
    checks = {f["check"]: f for f in report["findings"]}
    assert code == 0 and report["verdict"] == "pass", out
    assert checks["fault:gc_pressure#1"]["figures"]["env"] == {"GOGC": "5"}, out
    baseline = checks["baseline"]["figures"]
    assert baseline["baseline_rps"] > 50 and baseline["baseline_error_rate"] == 0.0, out
    assert checks["panics"]["status"] == "pass" and checks["recovery"]["status"] == "pass", out
    assert checks["recovery"]["figures"]["recovery_s"] <= 5.0
    ready = [e for e in report["events"] if e["kind"] == "target.ready"]
    assert len(ready) == 3, ready  # first start, restart with GOGC=5, restart back: each by the health check


def test_coredns_incident_4880_fails_the_last_buggy_release_and_passes_the_first_fixed_one(tmp_path: Path) -> None:
    """coredns/coredns#4880: CoreDNS 1.8.5 with the kubernetes plugin panics on a reload ("flag redefined:
    log_dir", recovered and logged as `[PANIC] Restart:`) and never takes another Corefile; 1.8.6 (the fix,
    coredns/coredns#4881) takes every one."""
    scenario = EXAMPLES / "coredns-incident" / "coredns-incident.chaos.yaml"
    code, report, out = run(scenario, tmp_path, "reproduce")
    checks = {f["check"]: f for f in report["findings"]}
    assert code == 1 and checks["panics"]["status"] == "fail", out
    assert "[PANIC] Restart: " in checks["panics"]["summary"], out
    assert "flag redefined: log_dir (during fault reload_storm#1" in checks["panics"]["summary"], out

    code, report, out = run(scenario, tmp_path, "run")
    checks = {f["check"]: f for f in report["findings"]}
    assert code == 0 and report["verdict"] == "pass", out
    assert checks["fault:reload_storm#1"]["summary"].startswith("reload_storm landed: 2 writes; the target went "
                                                                "live with 2 of them"), out
