"""The result of one run: what every report, the history and the pytest plugin read.

Below the runner and the reports alike, so both import it downwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chaos.injectors.base import FaultReport
from chaos.oracles.context import Phases
from chaos.platform.base import RunningTarget
from chaos.scenario import Scenario
from chaos.timeline import Timeline
from chaos.verdict import Verdict

__all__ = ["RunResult"]


@dataclass
class RunResult:
    """Everything a report needs about one finished run."""

    scenario: Scenario
    verdict: Verdict
    timeline: Timeline
    phases: Phases
    seed: int
    buggy: bool
    faults: list[FaultReport] = field(default_factory=list)
    load_totals: object | None = None
    target_logs: dict[str, str] = field(default_factory=dict)
    #: The targets as they ended (their output, exits and restarts stay readable after the run).
    targets: list[RunningTarget] = field(default_factory=list)
    run_dir: Path | None = None
    #: When the run began (ns, the timeline's clock): setup is `phases.baseline_start - started_ns`.
    started_ns: int = 0
