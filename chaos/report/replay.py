"""The one command that replays a run, as every report and the console print it.

A bundled scenario is replayed by its name; a user's scenario file by its path (its name alone
would answer "no bundled scenario"). A run against the buggy build is replayed with `reproduce`.
The seed is always given, so the replay makes the same fault schedule and names.

A suite (a gate of four scenarios) is replayed one member at a time: `member_replays` gives each member
its own command with its own seed, so whoever reads the summary copies the one that failed, not the gate.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.scenario import bundled_scenarios

if TYPE_CHECKING:
    from chaos.run_result import RunResult
    from chaos.scenario import Scenario
    from chaos.verdict import Finding, Status


@dataclass(frozen=True, slots=True)
class MemberReplay:
    """One suite member's own replay: that scenario alone, with the seed of its run."""

    scenario: str
    status: Status
    seed: int
    command: str


def replay_command(result: RunResult) -> str:
    """`gochaos run|reproduce NAME|FILE --seed N` for `result`."""
    return command_for(result.scenario, buggy=result.buggy, seed=result.seed)


def member_replays(results: Sequence[RunResult]) -> list[MemberReplay]:
    """One replay per scenario of `results`, in the suite's order.

    A scenario run several times (`--repeat`) is replayed by its worst run, the first of those (the first
    failing seed): that is the run worth replaying.
    """
    chosen: dict[str, RunResult] = {}
    for result in results:
        name = result.scenario.name
        if name not in chosen or result.verdict.status.rank < chosen[name].verdict.status.rank:
            chosen[name] = result
    return [MemberReplay(name, r.verdict.status, r.seed, replay_command(r)) for name, r in chosen.items()]


def command_for(scenario: Scenario, *, buggy: bool, seed: int | None) -> str:
    """The replay command; without `--seed` when `seed` is None (the caller appends the one it names)."""
    verb = "reproduce" if buggy else "run"
    command = f"gochaos {verb} {shlex.quote(scenario_argument(scenario))}"
    return command if seed is None else f"{command} --seed {seed}"


def scenario_argument(scenario: Scenario) -> str:
    """What to pass as NAME|FILE: the bundled name when the file is the bundled one, else the file."""
    location = scenario_file(scenario)
    if location is None:
        return scenario.name
    bundled = bundled_scenarios().get(scenario.name)
    if bundled is not None and Path(bundled).resolve() == Path(location[0]).resolve():
        return scenario.name
    return location[0]


def scenario_file(scenario: Scenario) -> tuple[str, int | None] | None:
    """(path, line of `name:`) of the scenario's file, relative to the working directory when inside it."""
    if scenario.source is None:
        return None
    path = scenario.source.path
    try:
        # symlinks kept as given: a ConfigMap's mounted file resolves to a `..<timestamp>` directory
        shown = str(Path(os.path.abspath(path)).relative_to(Path.cwd()))
    except (ValueError, OSError):
        shown = path
    return shown, scenario.source.line


def finding_location(result: RunResult, finding: Finding) -> tuple[str, int | None] | None:
    """Where in the scenario file a finding points: its fault's entry for a fault finding, else `name:`."""
    location = scenario_file(result.scenario)
    source = result.scenario.source
    if location is None or source is None or not finding.check.startswith("fault:"):
        return location
    report = next((r for r in result.faults if f"fault:{r.name}#{r.fault_id}" == finding.check), None)
    if report is None:
        return location
    entries = [i for i, entry in enumerate(result.scenario.faults)
               if entry.injector == report.name and entry.target in (None, report.target)]
    line = source.fault_lines[entries[0]] if entries and entries[0] < len(source.fault_lines) else None
    return location[0], line or location[1]
