"""Seeds: the same seed draws the same fault schedule, and every report format prints the seed."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from report_samples import sample_result
from rich.console import Console

from chaos.plan import build_plan, describe, fault_schedule, resolve_seed
from chaos.report import html, json_report, junit
from chaos.report.console import print_verdict
from chaos.scenario import Scenario

JITTERED = Scenario.model_validate({
    "name": "jittered", "seed": 99,
    "targets": [{"bundled": "configd"}],
    "faults": [
        {"injector": "reload_storm", "target": "configd", "repeat": 5, "every_s": 2, "jitter_s": 1.5},
        {"injector": "gc_pressure", "target": "configd", "at_s": 1, "repeat": 3, "every_s": 3, "jitter_s": 2,
         "params": {"method": "env", "gc_percent": 5, "duration_s": 1}},
    ],
})


def offsets(seed: int) -> list[tuple[float, str]]:
    return [(f.at_s, f.injector.name) for f in fault_schedule(JITTERED, seed)]


def test_the_same_seed_draws_the_same_schedule_and_another_seed_another() -> None:
    first = offsets(1234)
    assert first == offsets(1234)
    assert len(first) == 8 and [at for at, _ in first] == sorted(at for at, _ in first)
    assert first != offsets(1235)
    # jitter only ever delays a repetition, by at most jitter_s
    storm = [at for at, name in first if name == "reload_storm"]
    assert all(k * 2 <= at <= k * 2 + 1.5 for k, at in enumerate(storm))


def test_each_fault_gets_its_own_seed_drawn_from_the_run_seed() -> None:
    first, again, other = (fault_schedule(JITTERED, seed) for seed in (1234, 1234, 1235))
    seeds = [f.seed for f in first]
    assert seeds == [f.seed for f in again]
    assert len(set(seeds)) == len(seeds), "two faults share a random stream"
    assert not set(seeds) & {f.seed for f in other}
    fresh = first[0].instance()
    assert fresh is not first[0].injector and fresh.params == first[0].injector.params
    assert fresh.budget == first[0].injector.budget


def test_the_seed_comes_from_the_flag_then_the_scenario_then_is_drawn() -> None:
    assert resolve_seed(JITTERED, 5) == 5
    assert resolve_seed(JITTERED, None) == 99
    unseeded = JITTERED.model_copy(update={"seed": None})
    assert isinstance(resolve_seed(unseeded, None), int)


def test_the_dry_run_shows_the_schedule_the_run_would_follow() -> None:
    lines = describe(build_plan(JITTERED, Path("."), platform="local", buggy=False, seed=1234))
    assert "seed 1234 (replay with --seed 1234)" in lines[0]
    shown = [line for line in lines if line.startswith("  +")]
    assert [float(line.split("s", 1)[0].strip(" +")) for line in shown] == \
        [round(at, 3) for at, _ in offsets(1234)]


def test_every_report_format_prints_the_seed(tmp_path: Path) -> None:
    result = sample_result(seed=424242)
    console = Console(record=True, width=200)
    print_verdict(console, result)
    assert "seed 424242" in console.export_text()
    assert json.loads(json_report.write(result, tmp_path).read_text())["seed"] == 424242
    suite = ET.parse(junit.write(result, tmp_path)).getroot().find("testsuite")
    assert suite is not None
    assert {p.get("name"): p.get("value") for p in suite.iter("property")}["seed"] == "424242"
    page = html.write(result, tmp_path).read_text(encoding="utf-8")
    assert "<dt>seed</dt><dd>424242</dd>" in page and "--seed 424242" in page
