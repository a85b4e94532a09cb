"""The pytest plugin as a user meets it: options in --help, fixtures in a fresh test session."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]


def test_options_are_grouped_under_gochaos(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["gochaos: chaos testing of Go services:", "*--gochaos-platform*",
                                 "*--gochaos-report-dir*", "*--gochaos-etcd-members*"])


def test_fixtures_start_targets_and_etcd_and_clean_up(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import requests

        SEEN = {}

        def test_configd_and_kvd(make_target, etcd_cluster, chaos_timeline):
            configd = make_target("configd", reload_strategy="atomic")
            assert requests.get(configd.endpoint.url + "/", timeout=5).ok
            kvd = make_target("kvd", etcd=etcd_cluster)
            assert requests.get(kvd.endpoint.url + "/-/readyz", timeout=5).ok
            SEEN["pids"] = [e.details["pid"] for e in chaos_timeline.events(kind="target.start")]
            SEEN["etcd"] = [m.process.pid for m in etcd_cluster.members]

        def test_everything_is_gone_afterwards():
            import os
            for pid in SEEN["pids"] + SEEN["etcd"]:
                try:
                    state = open(f"/proc/{pid}/stat").read().split(") ")[1][0]
                except OSError:
                    continue
                assert state == "Z", f"pid {pid} still running"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--gochaos-etcd-members", "1")
    result.assert_outcomes(passed=2)


SCENARIO = """
name: {name}
targets:
  - bundled: configd
    flags: {{reload_strategy: {strategy}}}
load: {{users: 10, spawn_rate: 100}}
windows: {{baseline_s: 1, observe_s: 1}}
faults:
  - injector: reload_storm
    target: configd
    params: {{pattern: incident, rounds: 4, interval_ms: 300}}
oracles: [panics]
"""


def test_chaos_yaml_files_are_collected_and_gate_with_their_findings(pytester: pytest.Pytester) -> None:
    scenarios = pytester.mkdir("scenarios")
    (scenarios / "fixed.chaos.yaml").write_text(SCENARIO.format(name="fixed", strategy="atomic"))
    (scenarios / "buggy.chaos.yaml").write_text(SCENARIO.format(name="buggy", strategy="unsafe"))
    (scenarios / "both.chaos.yaml").write_text("name: both\nscenarios: [fixed.chaos.yaml, buggy.chaos.yaml]\n")
    (scenarios / "broken.chaos.yaml").write_text("name: broken\ntargets:\n  - bundled: confgd\n")
    (scenarios / "notes.yaml").write_text("not: a scenario\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "scenarios", "-v",
                                           "--ignore", "scenarios/broken.chaos.yaml")
    result.stdout.fnmatch_lines([
        "*both.chaos.yaml::fixed PASSED*",
        "*both.chaos.yaml::buggy FAILED*",
        "*buggy.chaos.yaml::buggy FAILED*",
        "*fixed.chaos.yaml::fixed PASSED*",
        "*buggy: FAIL (seed *",
        "*fail         panics: configd: panic: assignment to entry in nil map*",
    ], consecutive=False)
    result.assert_outcomes(passed=2, failed=2)

    broken = pytester.runpytest_subprocess("-p", "no:cacheprovider", "scenarios/broken.chaos.yaml")
    broken.assert_outcomes(errors=1)
    broken.stdout.fnmatch_lines(["*broken.chaos.yaml:3: targets.0: unknown bundled target 'confgd'; "
                                 "did you mean 'configd'?*"])


def test_session_start_cleans_up_after_a_dead_run_and_says_so(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOCHAOS_STATE_DIR", str(pytester.path / "state"))
    monkeypatch.setenv("TMPDIR", str(pytester.path))
    dying = ("import os, signal\nfrom chaos import state\nprint(state.make_temp_dir('gochaos-run-'), flush=True)\n"
             "os.kill(os.getpid(), signal.SIGKILL)\n")
    child = subprocess.run([sys.executable, "-c", dying], capture_output=True, text=True, timeout=30)
    assert child.returncode == -signal.SIGKILL
    left = Path(child.stdout.strip())
    assert left.is_dir()
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"gochaos: cleaned up after a dead run: temp dir {left} (left by dead gochaos "
                                 f"pid *): removed"])
    assert not left.exists() and list((pytester.path / "state").glob("*.json")) == []
