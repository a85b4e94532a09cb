"""Verdicts a team can gate on, proven on a service shaped like a team's own: greeter (go_targets/cmd/greeter),
a stdlib-style Go service with one reload bug per build and a fixed build. Each buggy build gets the verdict
its bug deserves, every run leaves all its reports, and the fixed build passes. One seed each here;
tests/bench/bench_verdicts.py measures detection and false positives over many seeds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chaos.build import Binaries

pytestmark = pytest.mark.integration
TEMPLATES = Path(__file__).parent / "greeter"


@dataclass
class Ran:
    code: int
    output: str
    report_dir: Path

    @property
    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads((self.report_dir / "report.json").read_text())
        return report

    def finding(self, check: str) -> dict[str, Any]:
        found = {f["check"]: f for f in self.report["findings"]}
        assert check in found, f"no {check} finding in {sorted(found)}"
        one: dict[str, Any] = found[check]
        return one


def greeter_scenario(folder: Path, binary: Path, *flags: str, template: str = "reload") -> Path:
    """The template with the built greeter and its flags filled in, beside its config."""
    text = (TEMPLATES / f"{template}.chaos.yaml").read_text()
    text = text.replace("SERVICE_BINARY", str(binary)).replace("FLAGS", ", ".join(f'"{f}"' for f in flags))
    (folder / "greeter.json").write_text((TEMPLATES / "greeter.json").read_text())
    scenario = folder / f"{template}.chaos.yaml"
    scenario.write_text(text)
    return scenario


def gochaos(*args: str | Path, report_dir: Path | None = None) -> Ran:
    extra = ["--report-dir", str(report_dir)] if report_dir is not None else []
    done = subprocess.run([sys.executable, "-m", "chaos.cli", *map(str, args), *extra], capture_output=True,
                          text=True, timeout=300)
    return Ran(done.returncode, done.stdout + done.stderr, report_dir or Path("."))


@pytest.fixture(scope="module")
def greeter(gochaos_binaries: Binaries) -> Path:
    return gochaos_binaries["greeter"]


def test_a_crash_in_the_reload_path_fails_the_run_with_every_report(tmp_path: Path, greeter: Path) -> None:
    ran = gochaos("run", greeter_scenario(tmp_path, greeter, "--bug=reload-crash"), report_dir=tmp_path / "r")
    assert ran.code == 1, ran.output
    assert "PlatformError" not in ran.output and "not running, cannot send SIGHUP" not in ran.output
    panics = ran.finding("panics")
    assert panics["status"] == "fail"
    assert "greeter: panic: runtime error: makeslice: len out of range (during fault reload_storm#1" in \
        panics["summary"]
    assert ran.report["verdict"] == "fail"
    for name in ("junit.xml", "summary.md", "report.html", "metrics.prom"):
        assert (ran.report_dir / name).is_file(), f"{name} missing"
    assert "makeslice: len out of range" in (ran.report_dir / "junit.xml").read_text()
    assert (ran.report_dir / "latest").resolve() == (ran.report_dir / "report.json").resolve().parent
    history = json.loads(gochaos("history", ran.report_dir, "--json").output)
    assert [run["verdict"] for run in history["runs"]] == ["fail"]
    # the storm kept its schedule past the dead target: its SIGHUPs were recorded as a target down
    downs = [e for e in ran.report["events"] if e["kind"] == "reload.trigger_failed"]
    assert downs and all(e["details"]["target_down"] for e in downs)


def test_a_service_failing_every_request_during_the_storm_fails_the_steady_state(tmp_path: Path,
                                                                                 greeter: Path) -> None:
    ran = gochaos("run", greeter_scenario(tmp_path, greeter, "--bug=accept-invalid"), report_dir=tmp_path / "r")
    assert ran.code == 1, ran.output
    steady = ran.finding("steady_state")
    assert steady["status"] == "fail"
    assert steady["summary"].startswith("clients failed during reload_storm#1: ")
    assert "status 429" in steady["summary"]


def test_the_fixed_build_passes_with_what_every_check_observed(tmp_path: Path, greeter: Path) -> None:
    ran = gochaos("run", greeter_scenario(tmp_path, greeter, "--bug=none"), report_dir=tmp_path / "r")
    assert ran.code == 0, ran.output
    assert {f["check"]: f["status"] for f in ran.report["findings"]} == {
        "fault:reload_storm#1": "pass", "baseline": "pass", "steady_state": "pass", "panics": "pass",
        "recovery": "pass", "rollback": "pass", "leaks": "pass"}
    assert "goroutines and live heap back to baseline (prometheus http://127.0.0.1:" in \
        ran.finding("leaks")["summary"]
    assert "writes: " in ran.finding("rollback")["summary"]


def test_a_service_that_shows_nothing_of_its_config_cannot_pass_and_is_told_the_fix(tmp_path: Path,
                                                                                   greeter: Path) -> None:
    ran = gochaos("run", greeter_scenario(tmp_path, greeter, "--config-metric=false", template="unwatched"),
                  report_dir=tmp_path / "r")
    assert ran.code == 4, ran.output
    storm = ran.finding("fault:reload_storm#1")
    assert storm["status"] == "inconclusive"
    assert "nothing shows which config greeter runs: it has no live probe" in storm["summary"]
    assert "add a `live` probe" in storm["summary"]
    rollback = ran.finding("rollback")
    assert rollback["status"] == "inconclusive" and "have no observed fate" in rollback["summary"]


@pytest.mark.parametrize("observe", ["prometheus", "pprof"])
def test_goroutines_leaked_per_reload_fail_from_what_the_service_exposes(tmp_path: Path, greeter: Path,
                                                                        observe: str) -> None:
    ran = gochaos("run", greeter_scenario(tmp_path, greeter, "--bug=leak-goroutines", f"--observe={observe}"),
                  report_dir=tmp_path / "r")
    assert ran.code == 1, ran.output
    leaks = ran.finding("leaks")
    assert leaks["status"] == "fail"
    assert "greeter kept " in leaks["summary"] and " per reload over " in leaks["summary"]
    if observe == "pprof":  # the surplus named by the function that created it, as goleak does
        assert "more created by github.com/gochaos/gochaos/go_targets/internal/greeter.(*Server)." in \
            leaks["summary"]


def test_the_fixed_build_passes_leaks_read_from_pprof_alone(tmp_path: Path, greeter: Path) -> None:
    ran = gochaos("run", greeter_scenario(tmp_path, greeter, "--observe=pprof"), report_dir=tmp_path / "r")
    leaks = ran.finding("leaks")
    assert leaks["status"] == "pass", leaks
    assert "goroutines back to baseline (pprof http://127.0.0.1:" in leaks["summary"]


def test_reproduce_refuses_a_scenario_with_no_bug_to_switch_on(tmp_path: Path, greeter: Path) -> None:
    ran = gochaos("reproduce", greeter_scenario(tmp_path, greeter, "--bug=none"), report_dir=tmp_path / "r")
    assert ran.code == 2, ran.output
    assert "no target says what that is, so it would run the fixed build again" in ran.output
    assert not (tmp_path / "r" / "report.json").exists()


def test_a_run_the_suite_could_not_finish_still_leaves_its_reports(tmp_path: Path, greeter: Path) -> None:
    ran = gochaos("run", greeter_scenario(tmp_path, greeter, "--bug=no-such-bug"), report_dir=tmp_path / "r")
    assert ran.code == 3, ran.output
    assert ran.report["verdict"] == "error"
    run = ran.finding("run")
    assert run["status"] == "error" and run["summary"].startswith("run error during setup: TargetError: ")
    assert (ran.report_dir / "junit.xml").is_file()
    assert [r["verdict"] for r in json.loads(gochaos("history", ran.report_dir, "--json").output)["runs"]] == \
        ["error"]


def test_a_reload_that_never_finishes_fails_naming_the_write_and_the_services_last_word(tmp_path: Path,
                                                                                       greeter: Path) -> None:
    scenario = greeter_scenario(tmp_path, greeter, "--bug=stuck-reload", template="valid-only")
    ran = gochaos("run", scenario, report_dir=tmp_path / "r")
    assert ran.code == 1, ran.output
    storm = ran.finding("fault:reload_storm#1")
    assert storm["status"] == "fail"
    assert re.match(r"reload_storm: write #6 \(value\), which it must take, was not live 1500 ms after the storm "
                    r"while its probes answered: a stuck or lost reload; greeter still serves write #0 ",
                    storm["summary"]), storm["summary"]
    assert '"msg":"reload started"' in storm["summary"]
    fixed = gochaos("run", greeter_scenario(tmp_path, greeter, "--bug=none", template="valid-only"),
                    report_dir=tmp_path / "fixed")
    assert fixed.code == 0, fixed.output


def test_two_loads_at_once_one_on_a_named_port_are_both_judged(tmp_path: Path, greeter: Path) -> None:
    ran = gochaos("run", greeter_scenario(tmp_path, greeter, "--bug=none", template="two-loads"),
                  report_dir=tmp_path / "r")
    assert ran.code == 0, ran.output
    starts = [e["details"] for e in ran.report["events"] if e["kind"] == "load.start"]
    assert sorted(s["users"] for s in starts) == [2, 3]
    assert len({s["host"] for s in starts}) == 2, "the admin load has the admin port's address"
    assert "back to baseline (prometheus http://127.0.0.1:" in ran.finding("leaks")["summary"], \
        "the runtime is read on the named port that serves /metrics"
