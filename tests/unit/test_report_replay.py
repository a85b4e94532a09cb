"""The replay command: a user's scenario file by its path, a bundled one by name, the buggy build by `reproduce`."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from report_samples import sample_result
from rich.console import Console

from chaos.report import html, junit
from chaos.report.console import print_verdict
from chaos.report.replay import command_for, replay_command, scenario_file
from chaos.run_result import RunResult
from chaos.scenario import load_scenario, resolve

USER_SCENARIO = """\
# a team's own scenario
description: checkout under reloads
name: my-checkout
targets:
  - bundled: configd
faults:
  - injector: reload_storm
    target: configd
    params: {pattern: incident, rounds: 2}
"""


def user_result(tmp_path: Path, *, buggy: bool = False, folder: str = "scen arios") -> RunResult:
    path = tmp_path / folder / "checkout.chaos.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(USER_SCENARIO, encoding="utf-8")
    return dataclasses.replace(sample_result(buggy=buggy, seed=42), scenario=load_scenario(path))


def test_a_user_scenario_is_replayed_by_its_file_not_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert replay_command(user_result(tmp_path)) == "gochaos run 'scen arios/checkout.chaos.yaml' --seed 42"
    assert replay_command(user_result(tmp_path, buggy=True, folder="s")) == (
        "gochaos reproduce s/checkout.chaos.yaml --seed 42")


def test_a_file_outside_the_working_directory_keeps_its_absolute_path(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = user_result(tmp_path, folder="s")
    assert replay_command(result) == f"gochaos run {tmp_path}/s/checkout.chaos.yaml --seed 42"
    assert scenario_file(result.scenario) == (f"{tmp_path}/s/checkout.chaos.yaml", 3)


def test_a_bundled_scenario_is_replayed_by_its_name() -> None:
    scenario = load_scenario(resolve("reload-panic"))
    assert command_for(scenario, buggy=True, seed=5) == "gochaos reproduce reload-panic --seed 5"
    assert command_for(scenario, buggy=False, seed=None) == "gochaos run reload-panic"


def test_junit_html_and_console_print_the_same_replay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = user_result(tmp_path, buggy=True, folder="s")
    expected = "gochaos reproduce s/checkout.chaos.yaml --seed 42"
    root = ET.parse(junit.write(result, tmp_path / "out")).getroot()
    (suite,) = root
    assert f"replay: {expected}\n" in suite.findtext("system-out", "")
    page = html.write(result, tmp_path / "out").read_text(encoding="utf-8")
    assert "<code>gochaos reproduce s/checkout.chaos.yaml " in page and "--seed 42</span></code>" in page
    console = Console(record=True, width=200)
    print_verdict(console, result)
    assert f"replay: {expected}" in console.export_text()


def test_junit_cases_carry_the_scenario_file_and_the_line_of_its_name(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    root = ET.parse(junit.write(user_result(tmp_path, folder="s"), tmp_path / "out")).getroot()
    where = {c.get("name"): (c.get("file"), c.get("line")) for c in root.iter("testcase")}
    assert where == {"fault:reload_storm#1": ("s/checkout.chaos.yaml", "7"),  # the fault's entry
                     "panics": ("s/checkout.chaos.yaml", "3"), "recovery": ("s/checkout.chaos.yaml", "3")}


def test_a_scenario_built_in_code_has_no_file_attribute(tmp_path: Path) -> None:
    root = ET.parse(junit.write(sample_result(), tmp_path)).getroot()
    assert all(c.get("file") is None for c in root.iter("testcase"))
    assert replay_command(sample_result()) == "gochaos reproduce sample-run --seed 7"
