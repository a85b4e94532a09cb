"""Every bundled incident scenario FAILS its buggy build for the right reason and PASSES the fix.

This is the suite's reason to exist: a scenario that cannot catch the bug it was built for is
worthless, and one that flags a correct service is worse. Each run is the real thing: the Go
target on the local platform, Locust traffic, the scenario's faults and oracles.
"""

from __future__ import annotations

import re

import pytest

from chaos.run_result import RunResult
from chaos.runner import run_scenario
from chaos.scenario import load_scenario, resolve
from chaos.verdict import Status

pytestmark = pytest.mark.integration

#: scenario -> (oracle that must fail on the buggy build, what its summary must say)
CAUSES = {
    "reload-panic": ("panics", r"panic: assignment to entry in nil map|fatal error: concurrent map"),
    # configd runs race-built here: the first unlocked access, or the runtime's own map check
    "cache-map-race": ("panics", r"WARNING: DATA RACE|fatal error: concurrent map (read and map write|writes)"),
    "etcd-leader-loss": ("recovery", r"never recovered"),
    "gc-pressure": ("leaks", r"allocd kept \d+ goroutines alive after the load stopped"),
}


def run(name: str, *, buggy: bool) -> RunResult:
    path = resolve(name)
    return run_scenario(load_scenario(path), base_dir=path.parent, buggy=buggy, seed=1234)


def table(result: RunResult) -> str:
    return "\n".join(f"{f.check}: {f.status.value}: {f.summary}" for f in result.verdict.findings)


@pytest.mark.parametrize("name", sorted(CAUSES))
def test_the_fixed_build_passes(name: str) -> None:
    result = run(name, buggy=False)
    assert result.verdict.status is Status.PASS, table(result)
    assert all(f.status is Status.PASS for f in result.verdict.findings if f.check.startswith("fault:"))


@pytest.mark.parametrize("name", sorted(CAUSES))
def test_the_buggy_build_fails_for_the_right_reason(name: str) -> None:
    oracle, cause = CAUSES[name]
    result = run(name, buggy=True)
    assert result.verdict.status is Status.FAIL, table(result)
    finding = next(f for f in result.verdict.findings if f.check == oracle)
    assert finding.status is Status.FAIL and re.search(cause, finding.summary), table(result)
    assert finding.evidence, "a failing finding must carry its evidence"
    if name == "cache-map-race":  # the same cause as the incident: the cache's unlocked map write
        assert any("unlockedCache" in e.text for e in finding.evidence), table(result)
