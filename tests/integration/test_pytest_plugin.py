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

