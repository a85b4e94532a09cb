"""A service of the team's own built by the suite from its source (`build: DIR`), for real: a small stdlib
service in a module of its own passes, the next run finds its binary in the cache, an edit to a test keeps
it and an edit to the code builds again; `gochaos reproduce` runs `buggy_command`; and hunted, built from
this checkout's source with the race detector (`race: true`), fails `panics` with the race report under a
flap storm on its map-race build while its fixed build passes. Templates: tests/integration/source_build/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chaos.build import go_build_env, go_executable, go_targets_dir, require_c_compiler
from chaos.errors import BuildError
from chaos.source_build import build_source

pytestmark = pytest.mark.integration
TEMPLATES = Path(__file__).parent / "source_build"


def gochaos(*args: str | Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "chaos.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600, env={**os.environ, **(env or {})})
    return done.returncode, done.stdout + done.stderr


def findings(report_dir: Path) -> dict[str, dict[str, Any]]:
    report = json.loads((report_dir / "report.json").read_text())
    return {f["check"]: f for f in report["findings"]}


@pytest.fixture
def team_repo(tmp_path: Path) -> Path:
    """The team's repository: the scenario beside its greeting file and the module of the service."""
    repo = tmp_path / "repo"
    shutil.copytree(TEMPLATES / "svc", repo / "svc")
    for name in ("svc.chaos.yaml", "greeting.txt"):
        shutil.copyfile(TEMPLATES / name, repo / name)
    return repo


def test_a_service_built_from_its_source_passes_and_the_next_run_reuses_the_build(tmp_path: Path,
                                                                                  team_repo: Path) -> None:
    cache = {"GOCHAOS_CACHE_DIR": str(tmp_path / "cache")}
    code, output = gochaos("run", team_repo / "svc.chaos.yaml", "--report-dir", tmp_path / "r1", env=cache)
    assert code == 0, output
    assert "(first time for this source)" in " ".join(output.split()), output  # the console may wrap the path
    assert findings(tmp_path / "r1")["panics"]["status"] == "pass"  # it read {scenario_dir}/greeting.txt, or died
    (binary,) = (tmp_path / "cache" / "bin" / "source").glob("*/svc")
    built = binary.stat().st_mtime_ns

    code, output = gochaos("run", team_repo / "svc.chaos.yaml", "--report-dir", tmp_path / "r2", env=cache)
    assert code == 0, output
    assert "building" not in output, "the second run finds the build in the cache"
    assert list((tmp_path / "cache" / "bin" / "source").glob("*/svc")) == [binary]
    assert binary.stat().st_mtime_ns == built


def test_reproduce_runs_the_buggy_command(tmp_path: Path, team_repo: Path) -> None:
    cache = {"GOCHAOS_CACHE_DIR": str(tmp_path / "cache")}
    code, output = gochaos("reproduce", team_repo / "svc.chaos.yaml", "--report-dir", tmp_path / "r", env=cache)
    assert code == 1, output
    panics = findings(tmp_path / "r")["panics"]
    assert panics["status"] == "fail"
    assert panics["summary"].startswith("svc: panic: svc: the request counter is not there (the bug)"), panics
    assert json.loads((tmp_path / "r" / "report.json").read_text())["buggy"] is True


def test_an_edit_to_a_test_keeps_the_build_and_an_edit_to_the_code_builds_again(
        tmp_path: Path, team_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOCHAOS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GODEBUG", "gctrace=1")  # the suite's own GODEBUG never reaches the go command
    package = team_repo / "svc" / "cmd" / "svc"
    first = build_source(package)
    built = first.stat().st_mtime_ns
    (package / "main_test.go").write_text("package main\n\nimport \"testing\"\n\nfunc TestNothing(t *testing.T) {}\n")
    assert build_source(package) == first and first.stat().st_mtime_ns == built
    main = package / "main.go"
    main.write_text(main.read_text() + "\n// an edit to the code\n")
    second = build_source(package)
    assert second != first and second.is_file() and first.is_file()
    main.write_text(main.read_text() + "\nvar broken = undefinedName\n")
    with pytest.raises(BuildError, match=r"(?s)go build in .*/svc/cmd/svc \(module .*/repo/svc\) failed:\n.*"
                                         r"\./main\.go:\d+:\d+: undefined: undefinedName$") as caught:
        build_source(package)
    assert "gc 1 @" not in str(caught.value)


def test_hunted_built_with_the_race_detector_fails_panics_on_its_map_race_and_passes_fixed(tmp_path: Path) -> None:
    go = go_executable()
    try:
        require_c_compiler(go, go_build_env(race=True), "hunted")
    except BuildError as e:
        pytest.skip(f"no C compiler for a race build: {e}")
    text = (TEMPLATES / "hunted-race.chaos.yaml").read_text()
    scenario = tmp_path / "hunted-race.chaos.yaml"
    scenario.write_text(text.replace("HUNTED_DIR", str(go_targets_dir() / "cmd" / "hunted")))
    shutil.copyfile(Path(__file__).parent / "hunted" / "hunted.yaml", tmp_path / "hunted.yaml")

    code, output = gochaos("run", scenario, "--report-dir", tmp_path / "fixed")
    assert code == 0, output
    assert findings(tmp_path / "fixed")["panics"]["status"] == "pass"

    attempts = []
    for attempt in range(2):  # the race detector sees the first overlap; two runs make a miss all but impossible
        report_dir = tmp_path / f"buggy-{attempt}"
        code, output = gochaos("reproduce", scenario, "--report-dir", report_dir)
        panics = findings(report_dir)["panics"]
        attempts.append((code, panics["summary"]))
        if code == 1 and "WARNING: DATA RACE" in panics["summary"]:
            break
    assert code == 1, attempts
    assert panics["status"] == "fail"
    # the detector names the two accesses in the order it saw them: the reload's write, the handler's read
    summary = panics["summary"]
    assert summary.startswith("hunted: WARNING: DATA RACE: "), attempts
    assert "in hunted.(*Server).answer" in summary and "(during fault reload_storm#1, " in summary, attempts
    assert {"write in ", "read in "} <= {w for w in ("write in ", "read in ") if w in summary}, attempts
    assert any("setHeadersInPlace" in e["text"] for e in panics["evidence"]), "the writer's stack names the bug"
