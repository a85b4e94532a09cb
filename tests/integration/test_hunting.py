"""Hunting bugs nobody declared, on hunted (go_targets/cmd/hunted): `pattern: auto` with `rounds: auto` tries
every mutation site of the service's own config once, likeliest breakers first, and finds each reload bug
class with no variant naming it; a flap storm finds the in-place slice shrink racing a reader; `gochaos
shrink` reduces a failed storm to the one write that breaks it, as a scenario that fails again on its own.
Guided, on the fixed build: once every site was written alone, the rounds left follow up the sites whose write
made it show something new (a rejection, a log template never seen) with their neighbours and combinations,
each recorded with the site it follows; and the sites tried add up over `--repeat` and over the runs kept in a
report dir (`gochaos history`). One seed each; tests/bench/bench_hunting.py measures the rates over seeds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chaos.build import Binaries

pytestmark = pytest.mark.integration
TEMPLATES = Path(__file__).parent / "hunted"
AUTO_PARAMS = "params: {pattern: auto, rounds: auto, interval_ms: 60}"
#: Backends, headers and the greeting left alone: 73 sites of hunted's config, not 178, for a short storm.
PROTECT = "protect: [backends, headers, greeting]"


def scenario(folder: Path, binary: Path, bug: str, template: str = "explore", params: str | None = None) -> Path:
    """The template with the binary and its bug filled in (and the explore storm's params replaced by `params`)."""
    text = (TEMPLATES / f"{template}.chaos.yaml").read_text()
    if params is not None:
        assert AUTO_PARAMS in text
        text = text.replace(AUTO_PARAMS, f"params: {{{params}}}")
    (folder / "hunted.yaml").write_text((TEMPLATES / "hunted.yaml").read_text())
    path = folder / f"{template}.chaos.yaml"
    path.write_text(text.replace("SERVICE_BINARY", str(binary)).replace("FLAGS", f'"--bug={bug}"'))
    return path


def gochaos(*args: str | Path) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "chaos.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)
    return done.returncode, done.stdout + done.stderr


def findings(report_dir: Path) -> dict[str, dict[str, Any]]:
    report = json.loads((report_dir / "report.json").read_text())
    return {f["check"]: f for f in report["findings"]}


def writes(report_dir: Path) -> list[dict[str, Any]]:
    events = json.loads((report_dir / "report.json").read_text())["events"]
    return [e["details"] for e in events if e["kind"] == "reload.write" and e["details"].get("mutation") != "revert"]


@pytest.fixture(scope="module")
def hunted(gochaos_binaries: Binaries) -> Path:
    return gochaos_binaries["hunted"]


@pytest.mark.parametrize(("bug", "headline"), [
    ("empty-list-index", "panic: runtime error: index out of range [0] with length 0"),
    ("empty-string-index", "panic: runtime error: index out of range [0] with length 0"),
    ("zero-division", "panic: runtime error: integer divide by zero"),
    ("negative-make", "panic: runtime error: makeslice: len out of range"),
    ("nil-map-after-remove", "panic: assignment to entry in nil map"),
])
def test_exploring_every_site_finds_a_reload_bug_nobody_declared(tmp_path: Path, hunted: Path, bug: str,
                                                                 headline: str) -> None:
    code, output = gochaos("run", scenario(tmp_path, hunted, bug), "--report-dir", tmp_path / "r")
    assert code == 1, output
    found = findings(tmp_path / "r")
    assert found["panics"]["status"] == "fail"
    assert found["panics"]["summary"].startswith(f"hunted: {headline} (during fault reload_storm#1, ")


def test_the_fixed_build_takes_or_refuses_every_site_and_passes_with_its_coverage(tmp_path: Path,
                                                                                 hunted: Path) -> None:
    code, output = gochaos("run", scenario(tmp_path, hunted, "none"), "--report-dir", tmp_path / "r")
    assert code == 0, output
    storm = findings(tmp_path / "r")["fault:reload_storm#1"]
    total = storm["figures"]["sites_total"]
    assert total > 100 and storm["summary"].endswith(f"; sites tried: {total} of {total}")
    assert len(set(storm["figures"]["sites_tried"])) == total


def test_a_flap_storm_catches_a_slice_shrunk_in_place_under_its_reader(tmp_path: Path, hunted: Path) -> None:
    code, output = gochaos("run", scenario(tmp_path, hunted, "slice-shrink-race", "flap"), "--report-dir",
                           tmp_path / "r")
    assert code == 1, output
    assert "index out of range" in findings(tmp_path / "r")["panics"]["summary"]
    writes = json.loads((tmp_path / "r" / "report.json").read_text())["events"]
    assert {e["details"].get("site") for e in writes if e["kind"] == "reload.write"
            and e["details"].get("mutation") != "revert"} == {"backends:first-only"}


def test_shrink_finds_the_one_write_that_breaks_it_and_writes_a_scenario_that_fails_again(tmp_path: Path,
                                                                                       hunted: Path) -> None:
    explore = scenario(tmp_path, hunted, "zero-division")
    code, output = gochaos("run", explore, "--report-dir", tmp_path / "r")
    assert code == 1, output
    code, output = gochaos("shrink", tmp_path / "r")
    assert code == 0, output
    shrunk = tmp_path / "hunted-explore-shrunk.chaos.yaml"
    assert "writes -> 1 write, " in output and f"wrote {shrunk}" in output, output
    text = shrunk.read_text()
    assert text.startswith("# Shrunk by `gochaos shrink` from ")
    assert "# It fails the build it ran with: hunted: panic: runtime error: integer divide by zero" in text
    code, output = gochaos("run", shrunk, "--report-dir", tmp_path / "again")
    assert code == 1, output
    assert findings(tmp_path / "again")["panics"]["summary"].startswith(
        "hunted: panic: runtime error: integer divide by zero")


def test_run_with_shrink_keeps_the_verdict_and_writes_the_shrunk_scenario(tmp_path: Path, hunted: Path) -> None:
    code, output = gochaos("run", scenario(tmp_path, hunted, "negative-make"), "--report-dir", tmp_path / "r",
                           "--shrink")
    assert code == 1, output  # the run's FAIL, whatever the shrink found
    shrunk = tmp_path / "hunted-explore-shrunk.chaos.yaml"
    assert "writes -> 1 write, " in output and f"wrote {shrunk}" in output, output
    assert "# It fails the build it ran with: hunted: panic: runtime error: makeslice" in shrunk.read_text()


def test_rounds_left_after_the_sites_follow_up_what_made_the_service_show_something_new(tmp_path: Path,
                                                                                       hunted: Path) -> None:
    path = scenario(tmp_path, hunted, "none", params=f"pattern: auto, rounds: 95, interval_ms: 60, {PROTECT}")
    code, output = gochaos("run", path, "--report-dir", tmp_path / "r")
    assert code == 0, output
    storm = findings(tmp_path / "r")["fault:reload_storm#1"]
    figures, total = storm["figures"], storm["figures"]["sites_total"]
    assert total == 73 and len(set(figures["sites_tried"])) == total, "every site first, alone"
    interesting = figures["interesting_sites"]
    # a validation message of its own: each range check, each decode error hunted logs when it rejects a write
    assert any("workers: N not in N..N" in s for signals in interesting.values() for s in signals), interesting
    assert any(s == "reload:rejected" for signals in interesting.values() for s in signals), interesting
    written = writes(tmp_path / "r")
    explored, after = written[:total], written[total:]
    assert all(w["follows"] is None for w in explored) and {w["site"] for w in explored} == set(figures["sites_tried"])
    follow_ups = [w for w in after if w["follows"] is not None]
    assert follow_ups and follow_ups == after[:len(follow_ups)], "follow-ups first, then random writes"
    assert figures["follow_ups"] == len(follow_ups)
    assert {w["follows"] for w in follow_ups} <= set(interesting)
    assert all(w["follows"] in w["site"].split("+") for w in follow_ups)
    assert storm["summary"].split("; sites tried: ")[1].startswith(
        f"{total} of {total}; follow-ups: {len(follow_ups)} of {len(interesting)} interesting sites")
    texts = sorted((tmp_path / "r").glob("*/artefacts/*/writes/hunted/0*.yaml"))
    assert len({t.read_text() for t in texts[:total + len(follow_ups)]}) == total + len(follow_ups), \
        "no config written twice"
    # two range checks failing at once is a message no single site made hunted log
    assert any("; " in s for signals in figures["follow_ups_new"].values() for s in signals), figures


def test_the_sites_tried_add_up_over_repeats_and_over_the_runs_kept_in_a_report_dir(tmp_path: Path,
                                                                                   hunted: Path) -> None:
    path = scenario(tmp_path, hunted, "none", params=f"pattern: auto, rounds: 20, interval_ms: 60, {PROTECT}")
    code, output = gochaos("run", path, "--repeat", "2", "--report-dir", tmp_path / "r")
    assert code == 0, output
    runs = json.loads((tmp_path / "r" / "report.json").read_text())["runs"]
    tried = [set(run["faults"][0]["details"]["sites_tried"]) for run in runs]
    assert [len(t) for t in tried] == [20, 20] and tried[0] != tried[1], "each repeat its own seed, its own order"
    union = len(tried[0] | tried[1])
    line = f"hunted-explore: hunted: sites tried over 2 runs: {union} of 73; never tried: "
    assert line in (tmp_path / "r" / "summary.md").read_text()
    code, output = gochaos("history", tmp_path / "r")
    assert code == 0, output
    assert f"hunted: sites tried over 2 runs: {union} of 73; never tried: " in " ".join(output.split()), output
    assert f" +{73 - union - 5} more" in " ".join(output.split())
