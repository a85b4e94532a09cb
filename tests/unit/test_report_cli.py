"""`gochaos run --report-dir` writes report.json, junit.xml and report.html (the run itself is faked)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from report_samples import sample_findings, sample_result

import chaos.runner
from chaos.cli import main
from chaos.errors import ExitCode
from chaos.report import html
from chaos.run_result import RunResult
from chaos.verdict import Status


@pytest.fixture(autouse=True)
def no_outside_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CI job running these tests must not get their summaries, pushes or webhooks."""
    for name in ("GITHUB_STEP_SUMMARY", "GOCHAOS_PUSHGATEWAY", "GOCHAOS_WEBHOOK"):
        monkeypatch.delenv(name, raising=False)


def fake_run(result: RunResult) -> Any:
    def run_scenario(*args: object, **kwargs: object) -> RunResult:
        return result
    return run_scenario


def test_report_dir_gets_all_three_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(chaos.runner, "run_scenario", fake_run(sample_result()))
    assert main(["reproduce", "reload-panic", "--report-dir", str(tmp_path)]) == ExitCode.FAIL
    last = capsys.readouterr().out.splitlines()[-1]
    run_dir = (tmp_path / "latest").resolve()
    assert last == f"reports: {run_dir}/ (summary.md, report.html, report.json, junit.xml, metrics.prom)"
    for name in ("report.json", "junit.xml", "report.html"):
        assert (tmp_path / name).is_file()
    assert json.loads((tmp_path / "report.json").read_text())["verdict"] == "fail"
    assert ET.parse(tmp_path / "junit.xml").getroot().get("failures") == "1"
    assert '<svg class="timeline"' in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_a_report_that_cannot_be_written_is_reported_and_a_pass_becomes_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    passed = [f for f in sample_findings() if f.status is Status.PASS]
    monkeypatch.setattr(chaos.runner, "run_scenario", fake_run(sample_result(findings=passed)))

    def broken(result: RunResult, directory: Path) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr(html, "write", broken)
    assert main(["run", "reload-panic", "--report-dir", str(tmp_path)]) == ExitCode.INFRASTRUCTURE
    out = capsys.readouterr().out
    assert "could not write the html report" in out and "disk full" in out
    assert (tmp_path / "junit.xml").is_file() and (tmp_path / "report.json").is_file()
