"""A racy bug shows in some runs only: what N runs with fresh seeds say about its rate.

`gochaos run X --repeat N` runs a scenario N times, each with its own seed (`--seed S` makes them
S, S+1, ...: replayable). The detection rate is how many runs failed, with a 95% Wilson score
interval (sound for small N and for rates near 0 or 1, unlike the normal approximation), and the
first failing seed is the one to replay. A `pattern: auto` storm's coverage adds up over the runs:
`coverage_lines` gives the sites tried by any of them, of the sites of its config, and those none tried.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from chaos.report.coverage import StormSites, accumulate, lines
from chaos.verdict import Status

#: z for a two-sided 95% interval.
Z_95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Detection:
    """How many of `runs` failed, the 95% interval of the rate, and the first failing seed."""

    failed: int
    runs: int
    low: float
    high: float
    first_failing_seed: int | None

    @property
    def rate(self) -> float:
        return self.failed / self.runs if self.runs else 0.0


def wilson(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def detection(outcomes: Sequence[tuple[int, Status]]) -> Detection:
    """(seed, verdict) of each run, in order -> the detection rate of a FAIL."""
    failed = [seed for seed, status in outcomes if status is Status.FAIL]
    low, high = wilson(len(failed), len(outcomes))
    return Detection(len(failed), len(outcomes), low, high, failed[0] if failed else None)


def rate_text(name: str, found: Detection) -> str:
    """How often it failed, with the interval: the words every report uses."""
    return (f"{name}: failed {found.failed} of {found.runs} runs: detection rate {found.rate:.0%} "
            f"(95% CI {found.low:.0%}-{found.high:.0%})")


def describe(name: str, found: Detection, replay: str) -> str:
    """One line for the console and CI logs."""
    line = rate_text(name, found)
    if found.first_failing_seed is not None:
        seed = found.first_failing_seed
        line += f"; first failing seed {seed}: replay with `{replay} --seed {seed}`"
    return line


def coverage_lines(name: str, runs: Sequence[Sequence[StormSites]]) -> list[str]:
    """`NAME: TARGET: sites tried over N runs: X of Y` (then the sites never tried) for each storm target of
    the runs of scenario `name` (each run's storms, `chaos.report.coverage.of_result`); none without such storms."""
    return lines(accumulate(runs), prefix=f"{name}: ")
