"""Findings and the verdict they add up to: the one place a run's outcome is decided.

Oracles return `Finding`s, never bools. Precedence: any FAIL fails the run (a crash is a crash even
if a fault did not land); otherwise any INCONCLUSIVE (fault did not land, too little load, unhealthy
baseline) makes the run inconclusive, because a gate that passes when nothing happened is the worst
failure a chaos tool can have; only then PASS. A run that could not finish still gets a verdict and
its reports: ABORTED (SIGINT/SIGTERM, a kill switch) before everything, ERROR (the suite's own
infrastructure failed) after FAIL, since a crash seen before the error is still the service's.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chaos.errors import ExitCode


class Status(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    #: The suite's own infrastructure failed mid-run (exit 3): the reason is the `run` finding.
    ERROR = "error"
    #: The run was stopped before it finished (SIGINT/SIGTERM, a kill switch; exit 130).
    ABORTED = "aborted"

    @property
    def exit_code(self) -> ExitCode:
        """What `gochaos run` exits with for this outcome: CI scripts read it."""
        return _EXIT_CODES[self]

    @property
    def rank(self) -> int:
        """Precedence, most severe first (0): the one order for verdicts, tables and reports."""
        return _PRECEDENCE.index(self)


_EXIT_CODES = {Status.PASS: ExitCode.PASS, Status.FAIL: ExitCode.FAIL, Status.INCONCLUSIVE: ExitCode.INCONCLUSIVE,
               Status.ERROR: ExitCode.INFRASTRUCTURE, Status.ABORTED: ExitCode.INTERRUPTED}
_PRECEDENCE = (Status.ABORTED, Status.FAIL, Status.ERROR, Status.INCONCLUSIVE, Status.PASS)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One piece of evidence, stamped on the run's clock."""

    t_ns: int | None
    text: str


@dataclass(frozen=True, slots=True)
class Finding:
    """What one oracle (or the fault framework) concluded, with figures and evidence."""

    check: str
    status: Status
    summary: str
    evidence: tuple[Evidence, ...] = ()
    figures: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status
    findings: tuple[Finding, ...]

    @property
    def exit_code(self) -> ExitCode:
        return self.status.exit_code

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.status is Status.FAIL]


def overall_status(statuses: Iterable[Status]) -> Status:
    """The most severe status by `Status.rank` (FAIL beats INCONCLUSIVE beats PASS); nothing at all is
    inconclusive (nothing was judged).

    The one precedence rule, for an oracle's findings and for the runs of a gate alike.
    """
    return min(statuses, key=lambda status: status.rank, default=Status.INCONCLUSIVE)


def decide(findings: Iterable[Finding]) -> Verdict:
    """Assemble the verdict from the findings by `overall_status`."""
    found = tuple(findings)
    return Verdict(overall_status(f.status for f in found), found)
