"""History across runs: figures read from report.json as the writer writes it, regressions judged."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from report_samples import T0, sample_result

from chaos import run_dirs
from chaos.injectors.base import FaultOutcome, FaultReport
from chaos.injectors.etcd_leader import NEW_LEADER_AFTER_MS
from chaos.injectors.live_watch import LIVE_AFTER_MS
from chaos.oracles import recovery
from chaos.report import history, json_report
from chaos.run_result import RunResult
from chaos.verdict import Finding, Status

HOUR_NS = 3600 * 1_000_000_000


def recovery_finding(recovery_s: float | None, status: Status = Status.PASS) -> Finding:
    return Finding(recovery.NAME, status, "recovery", (),
                   {recovery.RECOVERY_S: recovery_s, recovery.AVAILABILITY: 0.97})


def run(hour: int, recovery_s: float | None = 0.4, status: Status = Status.PASS, *, buggy: bool = False,
        name: str = "sample-run") -> RunResult:
    findings = [recovery_finding(recovery_s, status)]
    result = sample_result(findings, buggy=buggy, seed=100 + hour, name=name)
    return dataclasses.replace(result, started_ns=T0 + hour * HOUR_NS)


def keep(report_dir: Path, *results: RunResult) -> Path:
    """Write `results` as one run directory of `report_dir`, as `gochaos run` does."""
    first = results[0]
    folder = run_dirs.new_run_dir(report_dir, first.scenario.name, first.seed, now=first.started_ns / 1e9)
    if len(results) == 1:
        json_report.write(first, folder)
    else:
        json_report.write_many(results, folder)
    return folder


def test_a_run_reads_back_with_the_figures_the_writer_wrote(tmp_path: Path) -> None:
    folder = keep(tmp_path, run(0, 1.25))
    (point,) = history.read_run_dir(folder)
    assert (point.run, point.scenario, point.seed, point.verdict) == (folder.name, "sample-run", 100, Status.PASS)
    assert point.started_ns == T0 and point.recovery_s == 1.25 and point.recovered is True
    # the sample fails every request from 2.2 s to 2.4 s of its 2 s fault phase; 40 ms latency during it
    assert point.availability == pytest.approx(0.9)
    assert point.p99_ms == pytest.approx(40, abs=1)
    assert point.landing_ms is None, "the sample's fault says nothing of when it landed"


def test_a_suite_report_gives_one_point_per_run_in_order(tmp_path: Path) -> None:
    folder = keep(tmp_path, run(0, 0.5, name="alpha"), run(0, None, Status.FAIL, name="beta"))
    alpha, beta = history.read_run_dir(folder)
    assert (alpha.scenario, alpha.recovered) == ("alpha", True)
    assert (beta.scenario, beta.recovered, beta.recovery_s) == ("beta", False, None), "never recovered"
    assert [f.check for f in beta.findings] == [recovery.NAME]


def test_the_sample_runs_findings_and_an_inconclusive_recovery(tmp_path: Path) -> None:
    (point,) = history.read_run_dir(keep(tmp_path, sample_result()))
    assert point.verdict is Status.FAIL and point.buggy
    assert [(f.check, f.status) for f in point.findings] == [("panics", Status.FAIL),
                                                             (recovery.NAME, Status.INCONCLUSIVE)]
    assert point.recovered is None, "an inconclusive recovery is not 'never recovered'"


def test_fault_landing_is_the_median_of_what_the_injectors_measured(tmp_path: Path) -> None:
    base = run(0)
    storm = FaultOutcome(True, "x", {LIVE_AFTER_MS: [10.0, 30.0, 20.0]})
    leader = FaultOutcome(True, "y", {NEW_LEADER_AFTER_MS: 600.0})
    faults = [FaultReport("reload_storm", 1, "configd", T0, T0 + 1, storm),
              FaultReport("leader_loss", 2, None, T0, T0 + 1, leader)]
    (point,) = history.read_run_dir(keep(tmp_path, dataclasses.replace(base, faults=faults)))
    assert point.landing_ms == 25.0


def test_an_older_report_without_load_figures_takes_availability_from_the_recovery_oracle(tmp_path: Path) -> None:
    folder = keep(tmp_path, run(0))
    document = json.loads((folder / "report.json").read_text())
    del document["load"]
    (folder / "report.json").write_text(json.dumps(document))
    (point,) = history.read_run_dir(folder)
    assert point.availability == 0.97 and point.p99_ms is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "no report.json (the run was interrupted before its reports)"),
        ('{"schema": 1, ', "not readable JSON: Expecting property name enclosed in double quotes"),
        ('{"schema": 1, "verdict": "pass"}', "not a gochaos report (scenario: Field required)"),
        ('{"schema": 1, "verdict": "pass", "exit_code": 0, "runs": [{"scenario": "x"}]}',
         "not a gochaos report (runs.0.schema: Field required)"),
        ("[1, 2]", "not a gochaos report (top level: Input should be a valid dictionary)"),
    ],
)
def test_an_unreadable_report_is_skipped_with_one_line(tmp_path: Path, content: str | None, reason: str) -> None:
    keep(tmp_path, run(0))
    broken = run_dirs.new_run_dir(tmp_path, "broken", 1, now=T0 / 1e9 + 60)
    if content is not None:
        (broken / "report.json").write_text(content)
    found = history.load(tmp_path)
    assert len(found.points) == 1
    (skipped,) = found.skipped
    assert skipped.path == broken / "report.json" and skipped.reason.startswith(reason)
    assert "\n" not in skipped.reason


def flagged(*results: RunResult) -> list[history.RunPoint]:
    points = [history.point(json_report.to_dict(r), f"run-{i}") for i, r in enumerate(results)]
    return history.flag(points)


def test_recovery_twice_the_median_of_the_last_passing_runs_is_a_regression() -> None:
    points = flagged(run(0, 0.4), run(1, 0.6), run(2, 0.5), run(3, 0.5), run(4, 1.6))
    assert [p.regressions for p in points[:4]] == [()] * 4
    (regression,) = points[4].regressions
    assert (regression.metric, regression.value, regression.median) == ("recovery_s", 1.6, 0.5)
    assert regression.text == "time to recover 1.6 s = 3.2x the median 0.5 s of the last 4 passing runs"
    assert regression.short == "recovery 3.2x"


def test_only_the_last_window_of_passing_runs_counts() -> None:
    slow_then_fast = [run(h, 3.0) for h in range(3)] + [run(3 + h, 0.5) for h in range(5)] + [run(8, 1.5)]
    points = flagged(*slow_then_fast)
    assert [r.metric for r in points[-1].regressions] == ["recovery_s"], "median of the last 5 is 0.5 s"
    failing = flagged(run(0, 0.5), run(1, 0.5), run(2, 9.0, Status.FAIL), run(3, 9.0, Status.FAIL), run(4, 1.2))
    assert [r.metric for r in failing[-1].regressions] == ["recovery_s"], "failing runs are no yardstick"


def test_a_small_rise_is_noise_whatever_the_ratio() -> None:
    points = flagged(run(0, 0.0), run(1, 0.1), run(2, 0.0), run(3, 0.4))
    assert points[-1].regressions == (), "0.0 s -> 0.4 s is within the 0.5 s noise floor"


def test_never_recovering_and_a_pass_to_fail_flip_are_regressions() -> None:
    points = flagged(run(0, 0.5), run(1, 0.5), run(2, None, Status.FAIL))
    assert [(r.metric, r.short) for r in points[-1].regressions] == [
        ("verdict", "pass -> fail"), ("recovery_s", "never recovered")]
    assert points[-1].regressions[0].text == "verdict pass -> fail (recovery)"
    again = flagged(run(0, 0.5), run(1, None, Status.FAIL), run(2, None, Status.FAIL))
    assert [r.metric for r in again[-1].regressions] == ["recovery_s"], "fail -> fail is no flip"


def test_buggy_builds_are_a_series_of_their_own() -> None:
    points = flagged(run(0, 0.5), run(1, 0.5), run(2, None, Status.FAIL, buggy=True), run(3, 0.5))
    assert [p.series for p in points] == ["sample-run", "sample-run", "sample-run (buggy build)", "sample-run"]
    assert all(p.regressions == () for p in points)


def test_newest_keeps_the_last_runs_of_each_series_in_order() -> None:
    points = flagged(run(0, name="a"), run(1, name="b"), run(2, name="a"), run(3, name="a"), run(4, name="b"))
    assert [(p.scenario, p.seed) for p in history.newest(points, 2)] == [("b", 101), ("a", 102), ("a", 103),
                                                                         ("b", 104)]


def test_only_a_regression_in_the_newest_run_directory_counts(tmp_path: Path) -> None:
    for result in (run(0, 0.5), run(1, 0.5), run(2, 2.5), run(3, 0.5)):
        keep(tmp_path, result)
    points = history.flag(history.load(tmp_path).points)
    assert [bool(p.regressions) for p in points] == [False, False, True, False]
    assert history.newest_run_regressions(points) == []
    keep(tmp_path, run(4, 4.0))
    points = history.flag(history.load(tmp_path).points)
    assert [p.seed for p in history.newest_run_regressions(points)] == [104]
    document = history.document(tmp_path, points, ())
    assert document["newest_run_regressed"] is True and len(document["runs"]) == 5
    assert document["runs"][-1]["regressions"][0]["metric"] == "recovery_s"
