"""Guided hunting on hunted (go_targets/cmd/hunted), the fixed build: once every site of its config was written
alone, the rounds left follow up the sites whose write made it show something new (a rejection, a log template
never seen) with their neighbours and combinations, each recorded with the site it follows; and the sites tried
add up over `--repeat` and over the runs kept in a report dir (`gochaos history`)."""

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


def storm_scenario(folder: Path, binary: Path, params: str) -> Path:
    text = (TEMPLATES / "explore.chaos.yaml").read_text()
    assert AUTO_PARAMS in text
    (folder / "hunted.yaml").write_text((TEMPLATES / "hunted.yaml").read_text())
    path = folder / "guided.chaos.yaml"
    path.write_text(text.replace("SERVICE_BINARY", str(binary)).replace("FLAGS", '"--bug=none"')
                    .replace(AUTO_PARAMS, f"params: {{{params}}}"))
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


def test_rounds_left_after_the_sites_follow_up_what_made_the_service_show_something_new(tmp_path: Path,
                                                                                       hunted: Path) -> None:
    path = storm_scenario(tmp_path, hunted, f"pattern: auto, rounds: 95, interval_ms: 60, {PROTECT}")
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
    path = storm_scenario(tmp_path, hunted, f"pattern: auto, rounds: 20, interval_ms: 60, {PROTECT}")
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
