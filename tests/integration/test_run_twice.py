"""A report dir reused run after run (a scheduled job's): the second run must work like the first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chaos import run_dirs

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def gochaos(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaos.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_etcd_leader_loss_twice_into_one_report_dir(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    for attempt in (1, 2):
        result = gochaos("run", "etcd-leader-loss", "--report-dir", str(reports), "--keep", "5", cwd=tmp_path)
        assert result.returncode == 0, f"run {attempt}:\n{result.stdout}{result.stderr}"
    first, second = run_dirs.runs(reports)
    assert (reports / "latest").resolve() == second
    assert json.loads((reports / "report.json").read_text())["verdict"] == "pass"
    for run in (first, second):
        assert json.loads((run / "report.json").read_text())["scenario"] == "etcd-leader-loss"
        assert not list(run.rglob("member/wal")), f"{run.name}: a passing run keeps no etcd data"
        assert list(run.rglob("etcd/m0.log")), f"{run.name}: etcd's logs are kept"
