"""summary.md: verdict table, top finding with evidence, seed and replay; appended to a CI step summary."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from report_samples import STACK, sample_result
from test_report_openmetrics import recovered_result

from chaos.report import markdown
from chaos.report.digest import digest
from chaos.verdict import Evidence, Finding, Status, decide


def test_the_summary_has_the_table_the_top_finding_its_evidence_the_seed_and_the_replay(tmp_path: Path) -> None:
    path = markdown.write_many([sample_result()], tmp_path)
    text = path.read_text(encoding="utf-8")
    assert path.name == "summary.md"
    assert text.startswith("## ❌ gochaos: FAIL — sample-run\n")
    rows = [line for line in text.splitlines() if line.startswith("| sample-run")]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split(" | ")]
    assert cells[:4] == ["sample-run", "buggy", "❌ FAIL", "7"]
    assert cells[5] == "90.00%", "availability during the faults"
    assert "panics: configd: panic: assignment to entry in nil map & more" in cells[7]
    assert "### Top finding: `panics` FAIL (sample-run, seed 7)" in text
    assert "goroutine 7 [running]:" in text and "\x1b" not in text, "the stack, without terminal colours"
    assert "at +2.190 s:" in text
    assert "**Seed:** 7" in text
    assert "**Replay:** `gochaos reproduce sample-run --seed 7`" in text
    assert f"**Reports:** `{tmp_path}`" in text


def test_a_passing_run_has_no_top_finding_but_still_its_seed_and_replay() -> None:
    passing = dataclasses.replace(recovered_result(), buggy=False, verdict=decide([
        Finding("panics", Status.PASS, "no crash"), Finding("recovery", Status.PASS, "ok", (), {"recovery_s": 0.4})]))
    text = markdown.render(digest([passing]))
    assert text.startswith("## ✅ gochaos: PASS")
    assert "Top finding" not in text
    assert "| sample-run | fixed | ✅ PASS | 7 | 0.40 s |" in text
    assert "**Replay:** `gochaos run sample-run --seed 7`" in text


def test_several_runs_show_the_detection_rate_and_the_worst_finding() -> None:
    inconclusive = sample_result([Finding("baseline", Status.INCONCLUSIVE, "too little load")], seed=1)
    failing = sample_result(seed=2)
    text = markdown.render(digest([inconclusive, failing]))
    assert "- sample-run: failed 1 of 2 runs: detection rate 50%" in text
    assert "### Top finding: `panics` FAIL (sample-run, seed 2)" in text, "a failure outranks an earlier inconclusive"
    assert "**Seed:** 1, 2" in text
    assert "**Replay:** `gochaos reproduce sample-run --seed 2`" in text


def test_pipes_and_backticks_cannot_break_the_table_or_the_fence() -> None:
    tricky = Finding("panics", Status.FAIL, "a | b\nc", (Evidence(None, "```\nnot the end\n````"),))
    text = markdown.render(digest([sample_result([tricky])]))
    assert "panics: a \\| b c" in text
    assert "`````\n```\nnot the end\n````\n`````" in text


def test_long_evidence_is_cut_to_its_first_lines() -> None:
    long = Finding("panics", Status.FAIL, "crash", (Evidence(None, "\n".join(f"line {i}" for i in range(100))),))
    text = markdown.render(digest([sample_result([long])]))
    assert "line 29" in text and "line 30\n" not in text and "... 70 more lines" in text


def test_the_step_summary_is_appended_to_not_overwritten(tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("## earlier step\n", encoding="utf-8")
    markdown.append_step_summary(summary, "## gochaos\n")
    assert summary.read_text(encoding="utf-8") == "## earlier step\n\n## gochaos\n"
    assert STACK.splitlines()[0] not in summary.read_text(encoding="utf-8")
