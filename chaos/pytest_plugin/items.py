"""`*.chaos.yaml` files as pytest items: `pytest scenarios/` gates a release.

Each scenario file is one item, a suite file one item per member. An item runs its scenario on the
session's platform with the session's seed, and fails with the findings, the seed and the command
that replays it when the verdict is not pass (inconclusive never passes a gate).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from chaos.pytest_plugin import session

if TYPE_CHECKING:
    from chaos.run_result import RunResult


def node_dir_name(nodeid: str) -> str:
    """A directory name for a test id: unique per item, so parallel workers never share one."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:120]


class ScenarioFile(pytest.File):
    """A scenario file: one item, or one per member when the file is a suite.

    A matching file that is no gochaos scenario (a Chaos Mesh manifest) is skipped with the reason; an
    invalid scenario fails collection, with the keys that made it one (chaos.pytest_plugin.collection).
    """

    def collect(self) -> Iterator[pytest.Item]:
        # deferred: the plugin imports the suite only once a gochaos item or fixture is used
        from chaos.errors import ScenarioError
        from chaos.pytest_plugin.collection import sniff
        from chaos.scenario import load_plan

        try:
            sniffed = sniff(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            sniffed = None  # load_plan says what is wrong with it, with the file and line
        if sniffed is not None and (why := sniffed.not_a_scenario()) is not None:
            pytest.skip(f"not a gochaos scenario: {why}")  # shown at this file: see `skipped_here`
        try:
            plan = load_plan(self.path).members
        except ScenarioError as e:
            hint = (f"\n(collected as a gochaos scenario for its top-level {', '.join(sniffed.gochaos_keys)}; if it is "
                    "not one: rename it, narrow ini gochaos_scenarios or set gochaos_collect = false)"
                    if sniffed is not None else "")
            raise self.CollectError(f"{e}{hint}") from e
        for scenario, base_dir in plan:
            yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario, base_dir=base_dir)


def skipped_here(collector: pytest.Collector, report: pytest.CollectReport) -> None:
    """A skipped scenario file's report points at the file, not at the plugin line that skipped it."""
    if isinstance(collector, ScenarioFile) and report.skipped and isinstance(report.longrepr, tuple):
        # No line: pytest shows it as `path: reason` (terminal._folded_skips), though its annotation wants one.
        report.longrepr = (str(collector.path), None, report.longrepr[2])  # type: ignore[assignment]


class ScenarioItem(pytest.Item):
    """Runs one scenario on the chosen platform; fails with the findings when the verdict is not pass."""

    def __init__(self, *, scenario: Any, base_dir: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.base_dir = base_dir
        self.add_marker("gochaos")  # `-m "not gochaos"` deselects it

    def runtest(self) -> None:
        # deferred: the plugin imports the suite only once a gochaos item or fixture is used
        from chaos.report import json_report
        from chaos.runner import run_scenario
        from chaos.verdict import Status

        session.activate(self.config)
        kept = session.report_dir(self.config)
        folder = kept / node_dir_name(self.nodeid) if kept is not None else None
        result = run_scenario(self.scenario, base_dir=self.base_dir, platform=session.platform_name(self.config),
                              seed=session.seed(self.config), run_dir=folder / "artefacts" if folder else None,
                              kube=session.kube_options(self.config))
        if folder is not None:
            json_report.write(result, folder)
        if result.verdict.status is not Status.PASS:
            raise ScenarioVerdict(result, self.nodeid)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        # deferred: the plugin imports the suite only once a gochaos item or fixture is used
        from chaos.errors import ChaosError

        if isinstance(excinfo.value, ScenarioVerdict):
            return excinfo.value.describe()
        if isinstance(excinfo.value, ChaosError):  # infrastructure: one clear line, no framework traceback
            return f"{self.scenario.name}: {type(excinfo.value).__name__}: {excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"scenario {self.scenario.name}"


def describe(result: RunResult, nodeid: str | None = None) -> str:
    """A run's verdict for a test report: status and seed, every finding, the evidence of those not
    passing, and the command that replays it."""
    verdict = result.verdict
    lines = [f"{result.scenario.name}: {verdict.status.value.upper()} (seed {result.seed})"]
    for finding in verdict.findings:
        lines.append(f"  {finding.status.value:<12} {finding.check}: {finding.summary}")
        if finding.status.value != "pass":
            lines += [f"      {text}" for e in finding.evidence[:3] for text in e.text.splitlines()[:8]]
    if nodeid is not None:
        lines.append(session.replay_hint(nodeid, result.seed))
    return "\n".join(lines)


class ScenarioVerdict(Exception):
    """A scenario item whose verdict is fail or inconclusive (inconclusive never passes a gate)."""

    def __init__(self, result: RunResult, nodeid: str) -> None:
        super().__init__(result.verdict.status.value)
        self.result = result
        self.nodeid = nodeid

    def describe(self) -> str:
        return describe(self.result, self.nodeid)
