"""Mutation-site coverage accumulated over runs: the union of the sites storms tried, per target and config,
with the sites none tried named; shown by --repeat's summary and report, and by `gochaos history`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from report_samples import sample_result
from test_history import HOUR_NS, keep

from chaos.cli import main
from chaos.errors import ExitCode
from chaos.injectors.base import FaultOutcome, FaultReport
from chaos.report import history, html, markdown, repeat
from chaos.report.coverage import Coverage, StormSites, accumulate, lines, of_result, storm_sites
from chaos.run_result import RunResult

SITES = [f"s{i:02d}:zero" for i in range(12)]


def storm(tried: list[str], every: list[str] = SITES, *, target: str = "hunted", listed: bool = True) -> StormSites:
    untried = frozenset(every) - frozenset(tried)
    return StormSites(target, len(every), frozenset(tried), untried if listed else None)


def details(tried: list[str], every: list[str] = SITES) -> dict[str, Any]:
    return {"writes": len(tried), "sites_total": len(every), "sites_tried": tried,
            "sites_untried": [s for s in every if s not in tried]}


def result(hour: int, tried: list[str], *, seed: int = 1) -> RunResult:
    sample = sample_result(buggy=False, seed=seed, name="hunt")
    fault = FaultReport("reload_storm", 1, "hunted", sample.phases.faults_start, sample.phases.faults_end,
                        FaultOutcome(True, "storm", details(tried)))
    return dataclasses.replace(sample, faults=[fault], started_ns=sample.started_ns + hour * HOUR_NS)


def test_a_storm_reports_its_sites_in_its_details_other_faults_do_not() -> None:
    found = storm_sites([("hunted", details(SITES[:3])), ("etcd", {"writes": 2}), (None, {"sites_total": "x"})])
    assert found == (storm(SITES[:3]),)
    assert storm_sites([("hunted", {"sites_total": 12, "sites_tried": SITES[:2]})]) == (
        storm(SITES[:2], listed=False),)


def test_the_sites_tried_add_up_over_runs_and_the_never_tried_are_named() -> None:
    (found,) = accumulate([[storm(SITES[:5])], [storm(SITES[3:9])], []])
    assert (found.runs, len(found.tried), found.total) == (2, 9, 12)
    assert found.never == tuple(SITES[9:])
    assert found.text() == "sites tried over 2 runs: 9 of 12; never tried: s09:zero, s10:zero, s11:zero"
    (few,) = accumulate([[storm(SITES[:2])]])
    assert few.text() == ("sites tried over 1 run: 2 of 12; never tried: s02:zero, s03:zero, s04:zero, s05:zero, "
                          "s06:zero +5 more")
    (all_of_them,) = accumulate([[storm(SITES[:6])], [storm(SITES[6:])]])
    assert all_of_them.text() == "sites tried over 2 runs: 12 of 12" and all_of_them.never == ()


def test_a_changed_config_is_counted_apart_and_said_to_be() -> None:
    grown = [*SITES, "extra:null"]
    found = accumulate([[storm(SITES[:4])], [storm(SITES[4:8])], [storm(grown[:13], grown)]])
    assert [(c.runs, len(c.tried), c.total) for c in found] == [(2, 8, 12), (1, 13, 13)]
    text = lines(found, prefix="hunt: ")
    assert text[0].startswith(f"hunt: hunted (config {found[0].config}: its config changed between the runs): "
                              "sites tried over 2 runs: 8 of 12")
    assert lines(found[:1]) == ["hunted: sites tried over 2 runs: 8 of 12; never tried: s08:zero, s09:zero, "
                                "s10:zero, s11:zero"]


def test_reports_that_do_not_list_the_untried_sites_still_count_them() -> None:
    (found,) = accumulate([[storm(SITES[:4], listed=False)], [storm(SITES[2:7], listed=False)]])
    assert found.never is None and found.untried == 5
    assert found.text() == "sites tried over 2 runs: 7 of 12; 5 never tried"
    assert isinstance(found, Coverage)


def test_repeat_gives_one_coverage_line_per_storm_target() -> None:
    runs = [of_result(result(0, SITES[:6])), of_result(result(1, SITES[6:]))]
    assert repeat.coverage_lines("hunt", runs) == ["hunt: hunted: sites tried over 2 runs: 12 of 12"]
    assert repeat.coverage_lines("hunt", [(), ()]) == []


def test_the_repeat_summary_and_report_show_the_sites_tried_over_the_runs(tmp_path: Path) -> None:
    results = [result(0, SITES[:6], seed=1), result(1, SITES[4:10], seed=2)]
    summary = markdown.write_many(results, tmp_path).read_text()
    assert "- hunt: failed 2 of 2 runs" in summary
    assert ("- hunt: hunted: sites tried over 2 runs: 10 of 12; never tried: s10:zero, s11:zero" in summary)
    page = html.write_many(results, tmp_path).read_text()
    assert "hunt: hunted: sites tried over 2 runs: 10 of 12" in page


def test_history_shows_the_sites_tried_over_the_kept_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keep(tmp_path, result(0, SITES[:3], seed=1))
    keep(tmp_path, result(1, SITES[3:5], seed=2), result(1, SITES[5:6], seed=3))  # a --repeat 2 run dir
    points = history.load(tmp_path).points
    assert [len(p.storms) for p in points] == [1, 1, 1]
    (found,) = history.coverage(points)["hunt"]
    assert (found.runs, len(found.tried)) == (3, 6)
    assert main(["history", str(tmp_path)]) == ExitCode.PASS
    out = " ".join(capsys.readouterr().out.split())
    assert ("hunted: sites tried over 3 runs: 6 of 12; never tried: s06:zero, s07:zero, s08:zero, s09:zero, "
            "s10:zero +1 more") in out
    assert main(["history", str(tmp_path), "--json"]) == ExitCode.PASS
    document = json.loads(capsys.readouterr().out)
    assert document["coverage"] == [{"series": "hunt", "target": "hunted", "config": found.config, "runs": 3,
                                     "sites_total": 12, "sites_tried": 6, "never_tried": SITES[6:]}]
