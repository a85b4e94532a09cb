"""`gochaos run` end to end on the local platform: the fixed build passes, the buggy one fails."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def gochaos(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaos.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=None)


def test_reload_panic_passes_on_the_fixed_build(tmp_path: Path) -> None:
    result = gochaos("run", "reload-panic", "--report-dir", str(tmp_path / "r"), "--seed", "7",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["verdict"] == "pass" and report["seed"] == 7
    checks = {f["check"]: f for f in report["findings"]}
    assert checks["panics"]["status"] == "pass"
    assert checks["fault:reload_storm#1"]["status"] == "pass"
    assert checks["fault:reload_storm#1"]["figures"]["writes"] == 10
    assert checks["baseline"]["figures"]["baseline_requests"] >= 20
    writes = [e for e in report["events"] if e["kind"] == "reload.write"]
    assert [w["details"]["mutation"] for w in writes[:2]] == ["value", "structural"]
    gap_ms = (writes[1]["t_ns"] - writes[0]["t_ns"]) / 1e6
    assert 90 <= gap_ms <= 150, f"incident pair written {gap_ms:.0f} ms apart, asked for 100"
    assert (tmp_path / "r" / "artefacts" / "reload-panic" / "configd" / "output.log").is_file()


def test_reload_panic_reproduces_the_crash_on_the_buggy_build(tmp_path: Path) -> None:
    result = gochaos("reproduce", "reload-panic", "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    panics = next(f for f in report["findings"] if f["check"] == "panics")
    assert panics["status"] == "fail" and report["buggy"] is True
    assert any(h in panics["summary"] for h in (
        "panic: assignment to entry in nil map", "fatal error: concurrent map",
    )), panics["summary"]
    assert "during fault reload_storm#1" in panics["summary"]
    assert any("goroutine" in e["text"] for e in panics["evidence"])
    assert "verdict: FAIL" in result.stdout


def test_repeat_reports_the_detection_rate_and_the_seed_to_replay(tmp_path: Path) -> None:
    result = gochaos("reproduce", "reload-panic", "--repeat", "3", "--seed", "10", "--report-dir",
                     str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "reload-panic: failed 3 of 3 runs: detection rate 100% (95% CI 44%-100%)" in result.stdout
    assert "replay with `gochaos reproduce reload-panic --seed 10`" in result.stdout
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert [run["seed"] for run in report["runs"]] == [10, 11, 12], "each repetition gets the next seed"


def test_a_storm_bounded_by_time_writes_the_rounds_that_start_within_it(tmp_path: Path) -> None:
    scenario = Path(__file__).parent / "storm-for-duration.chaos.yaml"  # for_s 0.8 s, a pair every 400 ms
    result = gochaos("reproduce", str(scenario), "--report-dir", str(tmp_path / "r"), "--seed", "3", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    checks = {f["check"]: f for f in report["findings"]}
    assert checks["fault:reload_storm#1"]["figures"]["writes"] == 4, "two rounds of an incident pair"
    assert checks["panics"]["status"] == "fail", checks["panics"]["summary"]


def test_a_fault_the_platform_cannot_do_is_inconclusive_naming_the_missing_ability(tmp_path: Path) -> None:
    scenario = tmp_path / "delete.chaos.yaml"
    scenario.write_text("name: delete-locally\ntargets: [{bundled: configd}]\nwindows: {baseline_s: 1, observe_s: 1}\n"
                        "faults: [{injector: pod_delete, target: configd}]\noracles: [panics]\n", encoding="utf-8")
    result = gochaos("run", str(scenario), "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 4, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    fault = next(f for f in report["findings"] if f["check"] == "fault:pod_delete#1")
    assert fault["status"] == "inconclusive" and "platform local has no PodDeleting ability" in fault["summary"]


def test_repeat_of_a_scenario_whose_file_names_a_seed_runs_consecutive_seeds(tmp_path: Path) -> None:
    text = (Path(__file__).parent / "storm-for-duration.chaos.yaml").read_text(encoding="utf-8")
    scenario = tmp_path / "seeded.chaos.yaml"
    scenario.write_text(text.replace("name: storm-for-duration", "name: seeded\nseed: 40"), encoding="utf-8")
    result = gochaos("run", str(scenario), "--repeat", "2", "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert [run["seed"] for run in report["runs"]] == [40, 41], "the file's seed, then the next one"
