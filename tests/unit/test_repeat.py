"""The detection rate of a racy bug over N runs: counts, the Wilson interval, the seed to replay."""

from __future__ import annotations

import pytest

from chaos.report.repeat import describe, detection, wilson
from chaos.verdict import Status


def test_wilson_interval_matches_known_values() -> None:
    low, high = wilson(7, 20)  # p = 0.35
    assert low == pytest.approx(0.1812, abs=1e-3) and high == pytest.approx(0.5671, abs=1e-3)
    assert wilson(0, 10)[0] == 0.0 and wilson(0, 10)[1] == pytest.approx(0.2775, abs=1e-3)
    assert wilson(10, 10)[1] == pytest.approx(1.0) and wilson(10, 10)[0] == pytest.approx(0.7225, abs=1e-3)


def test_detection_names_the_first_failing_seed_to_replay() -> None:
    found = detection([(5, Status.PASS), (6, Status.FAIL), (7, Status.INCONCLUSIVE), (8, Status.FAIL)])
    assert (found.failed, found.runs, found.first_failing_seed) == (2, 4, 6)
    line = describe("cache-map-race", found, "gochaos reproduce cache-map-race")
    assert line.startswith("cache-map-race: failed 2 of 4 runs: detection rate 50% (95% CI 15%-85%)")
    assert line.endswith("replay with `gochaos reproduce cache-map-race --seed 6`")
    assert detection([(1, Status.PASS)]).first_failing_seed is None
