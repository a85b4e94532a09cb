"""What a reader of a CI summary or a chat message needs first, reduced once for every short report.

The verdict of each run with its seed, replay command and the figures `gochaos history` compares
(recovery, availability and p99 during the faults), each suite member's own replay, the detection
rate of a scenario run several times with the mutation sites its storms tried over those runs, and
the top finding: the first failing one (else the first inconclusive one) with its evidence. `chaos.report.markdown` and
`chaos.report.webhook` render it; neither decides anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.report import overall_status, repeat
from chaos.report.coverage import of_document
from chaos.report.history import point
from chaos.report.json_report import to_dict
from chaos.report.replay import MemberReplay, member_replays, replay_command
from chaos.verdict import Finding, Status

if TYPE_CHECKING:
    from chaos.run_result import RunResult



@dataclass(frozen=True, slots=True)
class RunDigest:
    """One run of one scenario, as a table row."""

    scenario: str
    buggy: bool
    verdict: Status
    seed: int
    replay: str
    recovery_s: float | None
    recovered: bool | None
    availability: float | None  #: during the faults
    p99_ms: float | None  #: during the faults
    #: The checks that did not pass, worst first.
    problems: tuple[Finding, ...]

    @property
    def build(self) -> str:
        return "buggy" if self.buggy else "fixed"


@dataclass(frozen=True, slots=True)
class TopFinding:
    run: RunDigest
    finding: Finding
    #: The run's baseline start, to stamp evidence with its offset.
    t0_ns: int


@dataclass(frozen=True, slots=True)
class Digest:
    verdict: Status
    runs: tuple[RunDigest, ...]
    #: One line per scenario run more than once: how often it failed; then the sites its storms tried over those runs.
    detection: tuple[str, ...]
    top: TopFinding | None
    #: Where the full reports are (the run directory), when they were written.
    report: Path | None
    #: Each scenario's own replay (one for a single scenario, one per member of a suite).
    replays: tuple[MemberReplay, ...] = ()

    @property
    def seeds(self) -> list[int]:
        return list(dict.fromkeys(r.seed for r in self.runs))

    @property
    def replay(self) -> str | None:
        """The one command to replay: the top finding's run, else the first run (`replays` has each member's)."""
        if self.top is not None:
            return self.top.run.replay
        return self.runs[0].replay if self.runs else None


def digest(results: Sequence[RunResult], *, report: Path | None = None) -> Digest:
    runs = []
    sites = []
    top: TopFinding | None = None
    for result in results:
        document = to_dict(result)
        sites.append(of_document(document))
        figures = point(document, "")
        problems = tuple(sorted((f for f in result.verdict.findings if f.status is not Status.PASS),
                                key=lambda f: f.status.rank))
        run = RunDigest(scenario=result.scenario.name, buggy=result.buggy, verdict=result.verdict.status,
                        seed=result.seed, replay=replay_command(result), recovery_s=figures.recovery_s,
                        recovered=figures.recovered, availability=figures.availability,
                        p99_ms=figures.p99_ms, problems=problems)
        runs.append(run)
        if problems and (top is None or problems[0].status.rank < top.finding.status.rank):
            top = TopFinding(run, problems[0], result.phases.baseline_start)
    detection = []
    for name in dict.fromkeys(r.scenario for r in runs):
        outcomes = [(r.seed, r.verdict) for r in runs if r.scenario == name]
        if len(outcomes) > 1:
            detection.append(repeat.rate_text(name, repeat.detection(outcomes)))
            detection += repeat.coverage_lines(name, [s for s, r in zip(sites, runs, strict=True)
                                                      if r.scenario == name])
    return Digest(overall_status(r.verdict for r in runs), tuple(runs), tuple(detection), top, report,
                  tuple(member_replays(results)))
