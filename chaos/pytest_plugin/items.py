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
    """A scenario file: one item, or one per member when the file is a suite."""

    def collect(self) -> Iterator[pytest.Item]:
        from chaos.errors import ScenarioError
        from chaos.scenario import load_plan

        try:
            plan = load_plan(self.path).members
        except ScenarioError as e:
            raise self.CollectError(str(e)) from e
        for scenario, base_dir in plan:
            yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario, base_dir=base_dir)


class ScenarioItem(pytest.Item):
    """Runs one scenario on the chosen platform; fails with the findings when the verdict is not pass."""

    def __init__(self, *, scenario: Any, base_dir: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.base_dir = base_dir

    def runtest(self) -> None:
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
