"""A suite's reports replay each member alone with its own seed: summary.md, report.html and the console.

The members are the bundled gate's four scenarios, read from their files as `gochaos run gate` reads them;
their results are the hand-built sample with each member's scenario and a seed of its own.
"""

from __future__ import annotations

import dataclasses
import io
import re

import pytest
from report_samples import sample_result

from chaos.report import html, markdown
from chaos.report.console import print_replays
from chaos.report.digest import digest
from chaos.report.replay import member_replays
from chaos.report.terminal import make_console
from chaos.run_result import RunResult
from chaos.scenario import load_plan, resolve
from chaos.verdict import Finding, Status

PASSED = [Finding("panics", Status.PASS, "no crash")]
#: member -> (seed, failing?)
GATE = {"reload-panic": (11, False), "cache-map-race": (22, True), "etcd-leader-loss": (33, False),
        "gc-pressure": (44, False)}


def gate_results() -> list[RunResult]:
    """One result per member of the bundled gate, in the gate's order, `cache-map-race` failing."""
    name, members, _ = load_plan(resolve("gate"))
    assert name == "gate" and [s.name for s, _ in members] == list(GATE)
    results = []
    for scenario, _ in members:
        seed, failing = GATE[scenario.name]
        sample = sample_result(None if failing else PASSED, buggy=False, seed=seed)
        results.append(dataclasses.replace(sample, scenario=scenario))
    return results


def test_each_member_is_replayed_alone_by_its_name_with_its_own_seed() -> None:
    replays = member_replays(gate_results())
    assert [(r.scenario, r.seed, r.status) for r in replays] == [
        ("reload-panic", 11, Status.PASS), ("cache-map-race", 22, Status.FAIL),
        ("etcd-leader-loss", 33, Status.PASS), ("gc-pressure", 44, Status.PASS)]
    assert [r.command for r in replays] == [f"gochaos run {name} --seed {seed}" for name, (seed, _) in GATE.items()]


def test_a_member_run_several_times_is_replayed_by_its_first_failing_run() -> None:
    first, *_ = gate_results()
    runs = [dataclasses.replace(first, seed=5), dataclasses.replace(sample_result(buggy=False, seed=6),
                                                                    scenario=first.scenario),
            dataclasses.replace(sample_result(buggy=False, seed=7), scenario=first.scenario)]
    (only,) = member_replays(runs)
    assert only.command == "gochaos run reload-panic --seed 6" and only.status is Status.FAIL


def test_the_summary_has_one_replay_line_per_member() -> None:
    text = markdown.render(digest(gate_results()))
    lines = [line for line in text.splitlines() if line.startswith("- ") and "`gochaos " in line]
    assert lines == [
        "- reload-panic ✅ PASS: `gochaos run reload-panic --seed 11`",
        "- cache-map-race ❌ FAIL: `gochaos run cache-map-race --seed 22`",
        "- etcd-leader-loss ✅ PASS: `gochaos run etcd-leader-loss --seed 33`",
        "- gc-pressure ✅ PASS: `gochaos run gc-pressure --seed 44`",
    ]
    assert "**Replay** (each scenario alone):" in text
    assert "gochaos run gate" not in text, "the suite is not what to replay: its members are"
    # the list ends before the next paragraph (else Markdown folds **Reports:** into the last item)
    after = text.split(lines[-1], 1)[1]
    assert after.startswith("\n\n") or after == "\n"


def test_the_html_runs_table_has_each_members_replay() -> None:
    page = html.render(gate_results())
    runs_table = page.split("<h3>Runs</h3>", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td><a href=\"#run-\d\">([a-z-]+)</a>.*?<code>(.*?)</code></td></tr>", runs_table)
    assert rows == [(name, f"gochaos run {name} --seed {seed}") for name, (seed, _) in GATE.items()]


def test_the_console_ends_a_suite_with_one_replay_line_per_member(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    out = io.StringIO()
    print_replays(make_console(file=out), gate_results())
    assert out.getvalue().splitlines() == [
        "replay reload-panic     (pass): gochaos run reload-panic --seed 11",
        "replay cache-map-race   (fail): gochaos run cache-map-race --seed 22",
        "replay etcd-leader-loss (pass): gochaos run etcd-leader-loss --seed 33",
        "replay gc-pressure      (pass): gochaos run gc-pressure --seed 44",
    ]


def test_one_scenario_keeps_its_single_replay_line(monkeypatch: pytest.MonkeyPatch) -> None:
    single = gate_results()[1:2]
    assert "**Replay:** `gochaos run cache-map-race --seed 22`" in markdown.render(digest(single))
    out = io.StringIO()
    print_replays(make_console(file=out), single)
    assert out.getvalue() == "", "its verdict already ended with its replay line"
