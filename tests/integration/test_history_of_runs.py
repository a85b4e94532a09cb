"""Five real runs kept in one report dir, then compared: `gochaos history`, its JSON, the trend plots."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from chaos import run_dirs

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RUNS = 5
#: The cheapest real run: a short reload storm on the fixed configd, windows of a second and a half.
SCENARIO = """\
name: history-probe
description: A short reload storm on the fixed configd, run again and again to compare runs.
targets:
  - bundled: configd
    flags: {reload_strategy: atomic}
load: {users: 4, spawn_rate: 100}
windows: {baseline_s: 1.5, observe_s: 1.5}
faults:
  - injector: reload_storm
    target: configd
    params: {pattern: incident, rounds: 2, interval_ms: 300, pair_gap_ms: 100}
oracles: [panics, recovery]
"""


def gochaos(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaos.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


class TrendPoints(HTMLParser):
    """The points of each trend plot of a page, by plot (`trend-recovery`, ...)."""

    def __init__(self) -> None:
        super().__init__()
        self.plots: dict[str, list[str]] = {}
        self._plot: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "svg":
            self._plot = next((c for c in classes if c.startswith("trend-")), None)
            if self._plot:
                self.plots[self._plot] = []
        elif self._plot and "point" in classes:
            self.plots[self._plot].append(" ".join(classes))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._plot = None


def test_five_runs_compared_in_a_table_in_json_and_in_trend_plots(tmp_path: Path) -> None:
    (tmp_path / "history-probe.chaos.yaml").write_text(SCENARIO)
    reports = tmp_path / "reports"
    for attempt in range(1, RUNS + 1):
        result = gochaos("run", "history-probe.chaos.yaml", "--report-dir", str(reports), cwd=tmp_path)
        assert result.returncode == 0, f"run {attempt}:\n{result.stdout}{result.stderr}"
    kept = run_dirs.runs(reports)
    assert len(kept) == RUNS
    seeds = [json.loads((run / "report.json").read_text())["seed"] for run in kept]

    table = gochaos("history", str(reports), cwd=tmp_path)
    assert table.returncode == 0 and table.stderr == "", table.stdout + table.stderr
    assert f"history-probe: {RUNS} run(s)" in table.stdout
    rows = [line.split() for line in table.stdout.splitlines() if line.strip()[:2] == "20"]
    assert [row[2] for row in rows] == [str(seed) for seed in seeds], "oldest first, one row per run"
    assert [row[3] for row in rows] == ["PASS"] * RUNS

    machine = gochaos("history", "--json", cwd=tmp_path)  # DIR defaults to ./reports
    assert machine.returncode == 0, machine.stderr
    document = json.loads(machine.stdout)
    runs = document["runs"]
    assert [r["run"] for r in runs] == [run.name for run in kept]
    assert [r["verdict"] for r in runs] == ["pass"] * RUNS and [r["seed"] for r in runs] == seeds
    for r in runs:
        assert r["recovered"] is True and 0 <= r["recovery_s"] <= 5, r
        assert r["availability_during_faults"] > 0.9 and r["p99_ms_during_faults"] > 0, r
        assert 0 < r["fault_landing_ms"] < 5000, f"a write served {r['fault_landing_ms']} ms after it was made"
        assert all(set(g) >= {"metric", "text", "short"} for g in r["regressions"])
    assert document["newest_run"] == kept[-1].name and document["skipped"] == []
    print("history --json:", [(r["recovery_s"], r["p99_ms_during_faults"], r["fault_landing_ms"]) for r in runs])

    page = TrendPoints()
    page.feed((reports / "latest" / "report.html").read_text(encoding="utf-8"))
    assert page.plots["trend-verdict"] == ["point status-pass"] * RUNS
    for plot in ("trend-recovery", "trend-availability", "trend-p99", "trend-landing"):
        assert len(page.plots[plot]) == RUNS, f"{plot}: {page.plots[plot]}"
    first = TrendPoints()
    first.feed((kept[0] / "report.html").read_text(encoding="utf-8"))
    assert first.plots == {}, "the first run had no earlier run to compare with"
