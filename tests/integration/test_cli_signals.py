"""Ctrl-C and SIGTERM on a running `gochaos run`: no child survives, no temp dir is left behind."""

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

SCENARIO = """
name: long-run
targets:
  - bundled: configd
load: {users: 5, spawn_rate: 50}
windows: {baseline_s: BASELINE, observe_s: 60}
faults:
  - injector: reload_storm
    target: configd
    params: {pattern: incident, rounds: 1000, interval_ms: 200}
"""


@pytest.mark.parametrize(("sig", "phase"), [
    (signal.SIGINT, "baseline"),
    (signal.SIGINT, "faults"),
    (signal.SIGTERM, "faults"),
])
def test_signal_stops_everything_the_run_started(tmp_path: Path, sig: signal.Signals, phase: str,
                                                 process_tree: ProcessTree) -> None:
    scenario = tmp_path / "long.chaos.yaml"
    scenario.write_text(SCENARIO.replace("BASELINE", "60" if phase == "baseline" else "1"))
    output = tmp_path / "out.txt"
    env = {**os.environ, "TMPDIR": str(tmp_path), "COLUMNS": "200", "GOCHAOS_STATE_DIR": str(tmp_path / "state")}
    with output.open("w") as out:
        # --no-report: the run's dir is a temp dir, which the interrupted run must remove
        proc = subprocess.Popen([sys.executable, "-m", "chaos.cli", "run", str(scenario), "--no-report"],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        assert wait_until(lambda: f"long-run: {phase}" in output.read_text(), timeout_s=120), \
            output.read_text()
        time.sleep(1.0)
        descendants = process_tree.descendants(proc.pid)
        names = set(descendants.values())
        assert "configd" in names, f"expected the target among {descendants}"
        assert any("python" in n for n in names), f"expected the Locust child among {descendants}"
        run_dirs = list(tmp_path.glob("gochaos-run-*"))
        assert len(run_dirs) == 1
        config = run_dirs[0] / "configd" / "config.yaml"
        proc.send_signal(sig)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = output.read_text()
    assert code == 130, text
    assert "interrupted" in text
    survivors = {pid: name for pid, name in descendants.items() if process_tree.alive(pid)}
    assert survivors == {}, f"left running after {sig.name}: {survivors}"
    assert not config.exists() and list(tmp_path.glob("gochaos-run-*")) == [], "run dir left behind"
    # everything was let go on the way out, not left for the exit hook or the next run to clean up
    assert "still held at exit" not in text and list((tmp_path / "state").glob("*.json")) == []


def test_an_interrupted_run_still_leaves_its_reports(tmp_path: Path) -> None:
    scenario = tmp_path / "long.chaos.yaml"
    scenario.write_text(SCENARIO.replace("BASELINE", "1"))
    output = tmp_path / "out.txt"
    reports = tmp_path / "reports"
    env = {**os.environ, "COLUMNS": "200", "GOCHAOS_STATE_DIR": str(tmp_path / "state")}
    with output.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "chaos.cli", "run", str(scenario), "--report-dir", str(reports)],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        assert wait_until(lambda: "long-run: faults" in output.read_text(), timeout_s=120), output.read_text()
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 130, output.read_text()
    report = json.loads((reports / "report.json").read_text())
    assert report["verdict"] == "aborted"
    run = next(f for f in report["findings"] if f["check"] == "run")
    assert run["summary"] == "run aborted during faults: interrupted by SIGINT"
    assert {f["check"] for f in report["findings"]} >= {"run", "panics"}, "what was seen until then is judged"
    assert (reports / "junit.xml").is_file() and (reports / "latest").is_symlink()
