"""What every oracle reads: the targets, the timeline, and the run's phase boundaries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chaos.platform.base import RunningTarget
from chaos.timeline import Timeline


@dataclass(frozen=True, slots=True)
class Phases:
    """Phase boundaries on the run's clock (ns): baseline, faults, observation."""

    baseline_start: int
    faults_start: int
    faults_end: int
    observe_end: int


@dataclass(frozen=True, slots=True)
class OracleContext:
    targets: Sequence[RunningTarget]
    timeline: Timeline
    phases: Phases
