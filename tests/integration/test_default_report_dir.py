"""Without --report-dir a real run keeps its reports in ./reports, where `gochaos history` looks, and its last
line says where they went; a suite's console and summary.md replay each member alone with its own seed.
`--no-report` writes nothing and says so. Each run's working directory is the test's own."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
#: A cheap member (one configd, a short storm); each has a seed of its own.
MEMBER = """\
name: NAME
seed: SEED
targets:
  - bundled: configd
load: {users: 2, spawn_rate: 50}
windows: {baseline_s: 1, observe_s: 1}
faults:
  - injector: reload_storm
    target: configd
    params: {pattern: incident, rounds: 2, interval_ms: 200}
oracles: [panics]
"""
SEEDS = {"first": 101, "second": 202}


def gochaos(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GOCHAOS_") and k not in ("GITHUB_STEP_SUMMARY", "COLUMNS")}
    env.update(PYTHONPATH=str(REPO), GOCHAOS_STATE_DIR=str(cwd / "state"))
    return subprocess.run([sys.executable, "-m", "chaos.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def write_suite(folder: Path) -> Path:
    for name, seed in SEEDS.items():
        (folder / f"{name}.chaos.yaml").write_text(MEMBER.replace("NAME", name).replace("SEED", str(seed)))
    path = folder / "pair.chaos.yaml"
    path.write_text("name: pair\njobs: 2\nscenarios: [first.chaos.yaml, second.chaos.yaml]\n")
    return path


def test_a_suite_without_report_dir_reports_into_dot_reports_and_replays_each_member(tmp_path: Path) -> None:
    write_suite(tmp_path)
    done = gochaos("run", "pair.chaos.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()

    (run_dir,) = [p for p in (tmp_path / "reports").iterdir() if p.is_dir() and not p.is_symlink()]
    assert re.fullmatch(r"\d{8}T\d{6}Z-pair", run_dir.name), run_dir.name
    assert lines[-1] == f"reports: reports/{run_dir.name}/ (summary.md, report.html, report.json, junit.xml, " \
                        "metrics.prom)"
    assert (tmp_path / "reports" / "latest").resolve() == run_dir
    for name in ("summary.md", "report.html", "report.json", "junit.xml"):
        assert (run_dir / name).is_file(), name

    # the console's last lines: each member alone, with its own seed, by the file it was read from
    replays = [line for line in lines if line.startswith("replay ") and "(pass):" in line]
    assert replays == ["replay first  (pass): gochaos run first.chaos.yaml --seed 101",
                       "replay second (pass): gochaos run second.chaos.yaml --seed 202"]
    summary = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert "- first ✅ PASS: `gochaos run first.chaos.yaml --seed 101`" in summary
    assert "- second ✅ PASS: `gochaos run second.chaos.yaml --seed 202`" in summary

    # `gochaos history` with no DIR reads the same ./reports
    history = gochaos("history", "--json", cwd=tmp_path)
    assert history.returncode == 0, history.stdout + history.stderr
    runs = json.loads(history.stdout)["runs"]
    assert sorted((r["scenario"], r["seed"]) for r in runs) == [("first", 101), ("second", 202)]


def test_no_report_writes_nothing_and_says_so(tmp_path: Path) -> None:
    write_suite(tmp_path)
    done = gochaos("run", "first.chaos.yaml", "--no-report", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "reports: none (--no-report)"
    assert not (tmp_path / "reports").exists()


def test_no_report_and_a_report_dir_are_one_choice(tmp_path: Path) -> None:
    done = gochaos("run", "reload-panic", "--no-report", "--report-dir", "r", cwd=tmp_path)
    assert done.returncode == 2
    assert "--report-dir: not allowed with argument --no-report" in done.stderr
    assert not (tmp_path / "r").exists()
