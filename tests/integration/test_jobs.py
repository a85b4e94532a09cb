"""`--jobs N`: a suite's members side by side, each with its own ports, dirs and state. The members really
overlap, the reports keep the suite's order, and a Ctrl-C stops every member, leaves nothing running and
still writes every member's report. Wall time against `--jobs 1` is measured in tests/bench/bench_gate_jobs.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from chaos.observe.readiness import wait_until

if TYPE_CHECKING:
    from tests.integration.conftest import ProcessTree

pytestmark = pytest.mark.integration

MEMBER = """\
name: NAME
targets:
  - bundled: configd
load: {users: 2, spawn_rate: 50}
windows: {baseline_s: 1, observe_s: OBSERVE}
faults:
  - injector: reload_storm
    target: configd
    params: {pattern: incident, rounds: ROUNDS, interval_ms: 200}
oracles: [panics, rollback]
"""


def suite(folder: Path, *, rounds: int, observe_s: int) -> Path:
    """A suite of two members, `first` and `second`, each one configd under a short storm."""
    for name in ("first", "second"):
        text = MEMBER.replace("NAME", name).replace("ROUNDS", str(rounds)).replace("OBSERVE", str(observe_s))
        (folder / f"{name}.chaos.yaml").write_text(text)
    path = folder / "pair.chaos.yaml"
    path.write_text("name: pair\nscenarios: [first.chaos.yaml, second.chaos.yaml]\n")
    return path


def test_members_run_at_once_and_report_in_the_suites_order(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    done = subprocess.run([sys.executable, "-m", "chaos.cli", "run", str(suite(tmp_path, rounds=6, observe_s=1)),
                           "--jobs", "2", "--report-dir", str(reports)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "running 2 scenarios, 2 at a time" in done.stdout
    runs = json.loads((reports / "report.json").read_text())["runs"]
    assert [r["scenario"] for r in runs] == ["first", "second"]
    assert [r["verdict"] for r in runs] == ["pass", "pass"]
    first, second = (r["phases"] for r in runs)
    # side by side: each member's faults began before the other member's run was over
    assert first["faults_start"] < second["observe_end"] and second["faults_start"] < first["observe_end"], runs
    artefacts = {Path(r["artefacts"]).name for r in runs}
    assert artefacts == {"first", "second"}, "each member keeps its own run dir"


def test_ctrl_c_stops_every_member_and_leaves_their_reports(tmp_path: Path, process_tree: ProcessTree) -> None:
    reports = tmp_path / "reports"
    output = tmp_path / "out.txt"
    env = {**os.environ, "COLUMNS": "200", "GOCHAOS_STATE_DIR": str(tmp_path / "state"), "TMPDIR": str(tmp_path)}
    with output.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "chaos.cli", "run", str(suite(tmp_path, rounds=500,
                                 observe_s=60)), "--jobs", "2", "--report-dir", str(reports)],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        assert wait_until(lambda: output.read_text().count(": faults") >= 2, timeout_s=120), output.read_text()
        time.sleep(1.0)
        descendants = process_tree.descendants(proc.pid)
        assert list(descendants.values()).count("configd") == 2, descendants
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = output.read_text()
    assert code == 130, text
    survivors = {pid: name for pid, name in descendants.items() if process_tree.alive(pid)}
    assert survivors == {}, f"left running after SIGINT: {survivors}"
    assert list((tmp_path / "state").glob("*.json")) == [], "a member's holdings were left for a later cleanup"
    document = json.loads((reports / "report.json").read_text())
    assert document["verdict"] == "aborted"
    assert [r["scenario"] for r in document["runs"]] == ["first", "second"]
    for run in document["runs"]:
        found = {f["check"]: f for f in run["findings"]}
        assert found["run"]["summary"].startswith("run aborted during faults: interrupted by SIGINT"), found["run"]
