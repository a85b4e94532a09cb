"""Findings and the verdict they add up to: the one place a run's outcome is decided.

Oracles return `Finding`s, never bools. Precedence: any FAIL fails the run (a crash is a crash even
if a fault did not land); otherwise any INCONCLUSIVE (fault did not land, too little load, unhealthy
baseline) makes the run inconclusive, because a gate that passes when nothing happened is the worst
failure a chaos tool can have; only then PASS.
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
        return {
            Status.PASS: ExitCode.PASS,
            Status.FAIL: ExitCode.FAIL,
            Status.INCONCLUSIVE: ExitCode.INCONCLUSIVE,
        }[self.status]

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.status is Status.FAIL]


def decide(findings: Iterable[Finding]) -> Verdict:
    """Assemble the verdict: FAIL beats INCONCLUSIVE beats PASS; no findings is inconclusive."""
    found = tuple(findings)
    statuses = {f.status for f in found}
    if Status.FAIL in statuses:
        status = Status.FAIL
    elif Status.INCONCLUSIVE in statuses or not found:
        status = Status.INCONCLUSIVE
    else:
        status = Status.PASS
    return Verdict(status, found)
