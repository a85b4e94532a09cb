"""`gochaos history` and the trend plots, over report dirs written by the real report writers."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_history import keep, run
from test_report_html import assert_self_contained, parse

from chaos.cli import main
from chaos.errors import ExitCode
from chaos.report import html
from chaos.verdict import Status

SVG = "{http://www.w3.org/2000/svg}"


def trend_svgs(page: str) -> dict[str, ET.Element]:
    """Each trend plot of the page, by its kind (`trend-recovery`, ...), parsed as XML."""
    found: dict[str, ET.Element] = {}
    for chunk in page.split("<svg ")[1:]:
        element = ET.fromstring('<svg xmlns="http://www.w3.org/2000/svg" ' + chunk.split("</svg>")[0] + "</svg>")
        kind = next((c for c in element.get("class", "").split() if c.startswith("trend-")), None)
        if kind:
            found[kind] = element
    return found


def points(svg: ET.Element) -> list[ET.Element]:
    return [e for e in svg.iter() if "point" in e.get("class", "").split()]


def test_history_prints_a_table_per_scenario_and_flags_the_regression(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for result in (run(0, 0.5), run(1, 0.6, name="other"), run(2, 0.5), run(3, 0.5), run(4, 2.5)):
        keep(tmp_path, result)
    assert main(["history", str(tmp_path)]) == ExitCode.PASS
    out = capsys.readouterr().out
    assert "sample-run: 4 run(s), 1 with regressions" in out and "other: 1 run(s)" in out
    rows = [line for line in out.splitlines() if line.strip().startswith("2023-")]
    assert len(rows) == 5 and all("PASS" in row for row in rows)
    assert [row.split()[2] for row in rows] == ["100", "102", "103", "104", "101"], "sample-run's table first"
    assert "▲ 2.50 s" in rows[3] and "recovery 5.0x" in rows[3]
    assert "time to recover 2.5 s = 5.0x the median 0.5 s of the last 3 passing runs" in out
    assert main(["history", str(tmp_path), "--fail-on-regression"]) == ExitCode.FAIL


def test_history_json_filters_and_last(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for result in (run(0, 0.5), run(1, 0.6, name="other"), run(2, 0.5), run(3, None, Status.FAIL)):
        keep(tmp_path, result)
    assert main(["history", "--report-dir", str(tmp_path), "--json", "--scenario", "sample-run",
                 "--last", "2", "--fail-on-regression"]) == ExitCode.FAIL
    document = json.loads(capsys.readouterr().out)
    assert [(r["seed"], r["verdict"]) for r in document["runs"]] == [(102, "pass"), (103, "fail")]
    assert [r["short"] for r in document["runs"][-1]["regressions"]] == ["pass -> fail", "never recovered"]
    assert document["newest_run_regressed"] is True and document["skipped"] == []


def test_unreadable_runs_are_noted_and_an_empty_dir_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["history", str(tmp_path / "nowhere")]) == ExitCode.USAGE
    assert capsys.readouterr().err.strip() == (
        f"gochaos: UsageError: no runs in {tmp_path / 'nowhere'}; runs are kept there by `gochaos run NAME "
        f"--report-dir {tmp_path / 'nowhere'}` (or pass the report dir as DIR)")
    good = keep(tmp_path, run(0))
    bad = keep(tmp_path, run(1))
    (bad / "report.json").write_text("{oops")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GOCHAOS_REPORT_DIR", raising=False)
    assert main(["history", "."]) == ExitCode.PASS
    out, err = capsys.readouterr()
    assert err.startswith(f"gochaos: skipped {Path('.') / bad.name / 'report.json'}: not readable JSON")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert good.name not in err and "sample-run: 1 run(s)" in out
    assert main(["history", ".", "--scenario", "nope"]) == ExitCode.USAGE
    assert "no runs of scenario 'nope' in .; it holds sample-run" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["history", ".", "--last", "0"])
    assert exited.value.code == ExitCode.USAGE
    assert "argument --last: '0' is not a whole number of runs >= 1" in capsys.readouterr().err


def test_report_html_of_a_run_gets_trend_plots_of_the_earlier_runs(tmp_path: Path) -> None:
    results = [run(0, 0.5), run(1, 0.4), run(2, None, Status.FAIL), run(3, 0.5), run(4, 1.8)]
    for result in results[:-1]:
        keep(tmp_path, result)
    newest = keep(tmp_path, results[-1])
    page = html.write(results[-1], newest).read_text(encoding="utf-8")
    assert_self_contained(page)
    assert '<section class="card history" id="history"><h3>History</h3>' in page
    plots = trend_svgs(page)
    assert set(plots) == {"trend-verdict", "trend-recovery", "trend-availability", "trend-p99"}
    verdicts = points(plots["trend-verdict"])
    assert [p.get("class") for p in verdicts] == [f"point status-{s}" for s in
                                                  ("pass", "pass", "fail", "pass", "pass")]
    recovery = points(plots["trend-recovery"])
    assert len(recovery) == 5 and "never" in (recovery[2].get("class") or "")
    rings = [e for e in plots["trend-recovery"].iter(f"{SVG}circle") if e.get("class") == "regression"]
    assert len(rings) == 2, "never recovered (run 3) and 1.8 s against a 0.5 s median (run 5)"
    assert "1.8 s = 3.6x the median 0.5 s of the last 3 passing runs" in page
    tips = [t.text or "" for t in plots["trend-recovery"].iter(f"{SVG}title")]
    assert any(newest.name in tip and "1.8 s" in tip for tip in tips)


def test_no_history_section_without_earlier_runs_of_the_scenario(tmp_path: Path) -> None:
    keep(tmp_path, run(0, name="other"))
    folder = keep(tmp_path, run(1))
    assert "History" not in html.write(run(1), folder).read_text(encoding="utf-8")
    plain = tmp_path / "not-a-run-dir"
    assert "History" not in html.write(run(2), plain).read_text(encoding="utf-8")


def test_history_html_is_a_standalone_page_of_the_same_plots(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    for result in (run(0, 0.5), run(1, 0.7), run(2, 0.6)):
        keep(tmp_path / "reports", result)
    target = tmp_path / "trends.html"
    assert main(["history", str(tmp_path / "reports"), "--html", str(target)]) == ExitCode.PASS
    assert f"trends: {target}" in capsys.readouterr().out
    page = target.read_text(encoding="utf-8")
    assert_self_contained(page)
    assert parse(page).tags[0][0] == "html"
    assert [len(points(svg)) for svg in trend_svgs(page).values()] == [3, 3, 3, 3]
