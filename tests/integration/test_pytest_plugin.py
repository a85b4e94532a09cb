"""The pytest plugin as a user meets it: options in --help, fixtures in a fresh test session."""

from __future__ import annotations

import json
import os
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
                                 "*--gochaos-report-dir*", "*--gochaos-seed*", "*--gochaos-etcd-members*"])
    result.stdout.fnmatch_lines(["*gochaos_platform (string):*", "*gochaos_seed (string):*"])


def test_fixtures_start_targets_and_etcd_and_clean_up(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import requests

        SEEN = {}

        def test_configd_and_kvd(gochaos_make_target, gochaos_etcd_cluster, gochaos_timeline):
            configd = gochaos_make_target("configd", reload_strategy="atomic")
            assert requests.get(configd.endpoint.url + "/", timeout=5).ok
            kvd = gochaos_make_target("kvd", etcd=gochaos_etcd_cluster)
            assert requests.get(kvd.endpoint.url + "/-/readyz", timeout=5).ok
            SEEN["pids"] = [e.details["pid"] for e in gochaos_timeline.events(kind="target.start")]
            SEEN["etcd"] = [m.process.pid for m in gochaos_etcd_cluster.members]

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
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "scenarios", "-v", "--gochaos-seed", "4242",
                                           "--ignore", "scenarios/broken.chaos.yaml")
    result.stdout.fnmatch_lines([
        "*both.chaos.yaml::fixed PASSED*",
        "*both.chaos.yaml::buggy FAILED*",
        "*buggy.chaos.yaml::buggy FAILED*",
        "*fixed.chaos.yaml::fixed PASSED*",
        "*buggy: FAIL (seed 4242)",
        "*fail         panics: configd: panic: assignment to entry in nil map*",
        "replay: pytest 'scenarios/both.chaos.yaml::buggy' --gochaos-seed 4242",
    ], consecutive=False)
    result.assert_outcomes(passed=2, failed=2)

    broken = pytester.runpytest_subprocess("-p", "no:cacheprovider", "scenarios/broken.chaos.yaml")
    broken.assert_outcomes(errors=1)
    broken.stdout.fnmatch_lines(["*broken.chaos.yaml:3: targets.0: unknown bundled target 'confgd'; "
                                 "did you mean 'configd'?*"])


def _dead_run_leftover(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp dir recorded in the state dir by a gochaos process that was SIGKILLed."""
    monkeypatch.setenv("GOCHAOS_STATE_DIR", str(pytester.path / "state"))
    monkeypatch.setenv("TMPDIR", str(pytester.path))
    dying = ("import os, signal\nfrom chaos import state\nprint(state.make_temp_dir('gochaos-run-'), flush=True)\n"
             "os.kill(os.getpid(), signal.SIGKILL)\n")
    child = subprocess.run([sys.executable, "-c", dying], capture_output=True, text=True, timeout=30)
    assert child.returncode == -signal.SIGKILL
    left = Path(child.stdout.strip())
    assert left.is_dir() and len(list((pytester.path / "state").glob("*.json"))) == 1
    return left


def _pytest_with_sigint_ignored(pytester: pytest.Pytester) -> subprocess.CompletedProcess[str]:
    """A pytest session started as `make &` starts it: SIGINT inherited as ignored."""
    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-s"], cwd=pytester.path,
                          capture_output=True, text=True, timeout=120, preexec_fn=ignore_sigint)


SIGINT_SEEN = """
import signal

def test_sigint_disposition():
    handler = signal.getsignal(signal.SIGINT)
    print("SIGINT handler:", "ignored" if handler is signal.SIG_IGN else getattr(handler, "__name__", handler))
"""


def test_a_session_without_gochaos_fixtures_changes_no_handler_and_reclaims_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    left = _dead_run_leftover(pytester, monkeypatch)
    pytester.makepyfile(SIGINT_SEEN)
    result = _pytest_with_sigint_ignored(pytester)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert "cleaned up" not in result.stdout
    assert "SIGINT handler: ignored" in result.stdout
    assert left.is_dir() and len(list((pytester.path / "state").glob("*.json"))) == 1


def test_the_first_gochaos_fixture_cleans_up_after_a_dead_run_and_says_so(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    left = _dead_run_leftover(pytester, monkeypatch)
    pytester.makepyfile(SIGINT_SEEN + "\n\ndef test_uses_gochaos(gochaos_timeline):\n    test_sigint_disposition()\n")
    result = _pytest_with_sigint_ignored(pytester)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert f"gochaos: cleaned up after a dead run: temp dir {left} (left by dead gochaos pid" in result.stdout
    # before the first gochaos fixture the session is untouched; from it on, SIGINT unwinds the run
    handlers = [line.split("SIGINT handler: ")[1] for line in result.stdout.splitlines() if "SIGINT handler: " in line]
    assert handlers == ["ignored", "default_int_handler"]
    assert not left.exists() and list((pytester.path / "state").glob("*.json")) == []



def _processes_naming(marker: Path) -> list[str]:
    """Processes whose command line names `marker` (targets, etcd, load of a run whose files are there)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(marker) in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


def test_scenario_items_run_in_parallel_under_xdist_and_leave_nothing_behind(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir = pytester.path / "state"
    monkeypatch.setenv("GOCHAOS_STATE_DIR", str(state_dir))
    pytester.makeini("[pytest]\ngochaos_seed = 77\n")
    (pytester.path / "fixed.chaos.yaml").write_text(SCENARIO.format(name="fixed", strategy="atomic"))
    (pytester.path / "buggy.chaos.yaml").write_text(SCENARIO.format(name="buggy", strategy="unsafe"))
    reports = pytester.path / "reports"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--gochaos-report-dir", str(reports),
                                           "fixed.chaos.yaml", "buggy.chaos.yaml")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*2 workers*", "*buggy: FAIL (seed 77)",
                                 "replay: pytest 'buggy.chaos.yaml::buggy' --gochaos-seed 77"], consecutive=False)
    runs = {p.parent.name: json.loads(p.read_text()) for p in reports.glob("*/report.json")}
    assert {name: (r["verdict"], r["seed"]) for name, r in runs.items()} == {
        "fixed.chaos.yaml_fixed": ("pass", 77), "buggy.chaos.yaml_buggy": ("fail", 77)}
    assert list(state_dir.glob("*.json")) == []  # each worker released everything it held
    assert _processes_naming(reports) == []


PYTHON_SCENARIO = """
import pytest
from chaos.errors import ScenarioError, UsageError


@pytest.mark.parametrize("strategy", ["atomic", "unsafe"])
def test_reload_storm(strategy, gochaos_target, gochaos_load, gochaos_fault, gochaos_oracle, gochaos_run):
    configd = gochaos_target("configd", reload_strategy=strategy)
    gochaos_load(configd, users=10, spawn_rate=100)
    gochaos_fault("reload_storm", configd, pattern="incident", rounds=4, interval_ms=300)
    gochaos_oracle("panics")
    run = gochaos_run(baseline_s=1, observe_s=1)
    assert [f.check for f in run.findings] == ["fault:reload_storm#1", "baseline", "panics", "steady_state"]
    assert run.passed, run.explain()


def test_the_buggy_build_needs_a_target_that_says_what_its_bug_is(gochaos_target, gochaos_run):
    gochaos_target("configd")
    with pytest.raises(UsageError, match="no target says what that is"):
        gochaos_run(buggy=True)


def test_a_typo_is_the_error_a_file_gets(gochaos_target, gochaos_fault, gochaos_run):
    configd = gochaos_target("configd")
    gochaos_fault("reload_strom", configd, pattern="incident")
    with pytest.raises(ScenarioError) as e:
        gochaos_run()
    print("ERROR:", e.value)
"""


def test_a_scenario_written_in_python_passes_the_fixed_build_and_fails_the_buggy_one(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOCHAOS_STATE_DIR", str(pytester.path / "state"))
    pytester.makepyfile(test_python_scenario=PYTHON_SCENARIO)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "-s", "--gochaos-seed", "5")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines([
        "*test_reload_storm?atomic? PASSED*",
        "*test_reload_storm?unsafe? FAILED*",
        "*ERROR: test_python_scenario.py::test_a_typo_is_the_error_a_file_gets: faults.0.injector: unknown "
        "injector 'reload_strom'; did you mean 'reload_storm'?*",
        "E       AssertionError: reload-storm-unsafe: FAIL (seed 5)",
        "E           fail         panics: configd: panic: assignment to entry in nil map*",
        "E         replay: pytest 'test_python_scenario.py::test_reload_storm[[]unsafe[]]' --gochaos-seed 5",
    ], consecutive=False)
    assert list((pytester.path / "state").glob("*.json")) == []
