"""The oracles over REAL runs: timelines and Go output captured from the bundled targets.

`tests/data/capture.py` recorded each bundled scenario against the buggy and the fixed build
(every request record, every event, each target's output lines and exits). Replaying them here
tests the crash parser on what Go really prints and each oracle on what a real run looks like,
in milliseconds. Only the target is a stand-in: it hands back the recorded output.
"""

from __future__ import annotations

import gzip
import json
import re
import signal
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from chaos.configfiles import WriteMode
from chaos.oracles import bind
from chaos.oracles.context import OracleContext, Phases
from chaos.oracles.gocrash import find_crashes
from chaos.platform.base import Endpoint
from chaos.platform.observations import ExitRecord, LogLine
from chaos.scenario import load_scenario, resolve
from chaos.targets import TargetSpec
from chaos.timeline import EventKind, RequestRecord, Timeline
from chaos.verdict import Status

DATA = Path(__file__).resolve().parents[1] / "data"


class RecordedTarget:
    """A finished target as captured: its spec, output and exits (nothing to reach over HTTP)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.spec = TargetSpec.model_validate(data["spec"])
        self.endpoint = Endpoint("127.0.0.1", 9)
        self.config_path = None
        self.restarts = int(data["restarts"])
        self.extra_env: dict[str, str] = {}
        self.placeholders: dict[str, str] = {}
        self.pid = None
        self._lines = [LogLine(t_ns=t, stream=stream, text=text, incarnation=incarnation)
                       for t, stream, incarnation, text in data["lines"]]
        self._exits = [ExitRecord(**e) for e in data["exits"]]

    def logs(self, since_ns: int | None = None) -> list[LogLine]:
        return [line for line in self._lines if since_ns is None or line.t_ns >= since_ns]

    def exits(self) -> list[ExitRecord]:
        return list(self._exits)

    def send_signal(self, sig: signal.Signals) -> None:
        raise AssertionError("a recorded target cannot be signalled")

    def endpoint_for(self, port: str | None) -> Endpoint:
        return self.endpoint

    def read_config(self) -> str:
        raise AssertionError("a recorded target has no config to read")

    def write_config(self, text: str, mode: WriteMode) -> None:
        raise AssertionError("a recorded target cannot be given a config")

    def restore_config(self, text: str) -> None:
        raise AssertionError("a recorded target cannot be given a config")


@cache
def replay(case: str) -> tuple[OracleContext, dict[str, Any]]:
    data = json.loads(gzip.decompress((DATA / "runs" / f"{case}.json.gz").read_bytes()))
    timeline = Timeline()
    for t_ns, kind, source, details in data["events"]:
        timeline.record(EventKind.parse(kind), source, t_ns=t_ns, **details)
    timeline.add_requests(RequestRecord(*row) for row in data["requests"])
    targets = [RecordedTarget(t) for t in data["targets"]]
    return OracleContext(targets, timeline, Phases(**data["phases"])), data


def judge(case: str) -> dict[str, Any]:
    ctx, data = replay(case)
    scenario = load_scenario(resolve(data["scenario"]))
    return {name: bind(name, params)(ctx) for name, params in scenario.oracle_entries() if name != "rollback"}


# case -> (oracle that must fail, what its summary must say); None: every oracle passes
CASES: dict[str, tuple[str, str] | None] = {
    "reload-panic-unsafe": ("panics", r"configd: panic: assignment to entry in nil map \(during fault reload_storm#1"),
    "cache-map-race-none": ("panics", r"configd: fatal error: concurrent map (writes|read and map write)"),
    "etcd-leader-loss-leaky": ("recovery", r"never recovered"),
    "gc-pressure-goroutines": ("leaks", r"allocd kept \d+ goroutines alive after the load stopped"),
    "reload-panic-atomic": None,
    "etcd-leader-loss-isolated": None,
    "gc-pressure-none": None,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_oracles_give_the_recorded_runs_their_verdict(case: str) -> None:
    findings = judge(case)
    expected = CASES[case]
    if expected is None:
        assert all(f.status is Status.PASS for f in findings.values()), {k: f.summary for k, f in findings.items()}
        return
    oracle, cause = expected
    finding = findings[oracle]
    assert finding.status is Status.FAIL and re.search(cause, finding.summary), finding.summary
    assert finding.evidence and all(e.t_ns for e in finding.evidence)


def test_a_real_panic_is_quoted_with_the_crashing_goroutine_and_its_fault_window() -> None:
    finding = judge("reload-panic-unsafe")["panics"]
    first = finding.evidence[0].text.splitlines()
    assert first[0].startswith("configd panic, during fault reload_storm#1")
    assert re.match(r"goroutine \d+ \[running\]:", first[1])
    assert any("applyNewConfig" in line for line in first[2:]), first
    assert finding.figures["crashes"] >= 1 and finding.figures["unrequested_exits"] >= 1


def test_a_real_fatal_error_stack_is_the_goroutine_that_wrote_the_map() -> None:
    ctx, _ = replay("cache-map-race-none")
    crashes = find_crashes(ctx.targets[0].logs())
    assert crashes and all(c.kind == "fatal error" for c in crashes)
    assert all(re.match(r"goroutine \d+ \[running\]:", c.stack[0]) for c in crashes)
    assert any("cache" in line.lower() for c in crashes for line in c.stack)
    # GOTRACEBACK=all printed every goroutine; the quote stops at the crashing one
    assert all(not any(line.startswith("goroutine ") for line in c.stack[1:]) for c in crashes)


def test_a_real_data_race_report_is_recognised() -> None:
    text = (DATA / "race" / "configd-cache-race.log").read_text()
    lines = [LogLine(t_ns=i, stream="stderr", text=line, incarnation=1) for i, line in enumerate(text.splitlines())]
    races = [c for c in find_crashes(lines) if c.kind == "data race"]
    assert races and races[0].headline == "WARNING: DATA RACE"
    assert races[0].stack[0].startswith("Read at 0x") and "(*unlockedCache).Set()" in races[0].stack[1]


def test_the_leaky_kvd_run_also_shows_in_the_figures_not_only_the_verdict() -> None:
    recovery = judge("etcd-leader-loss-leaky")["recovery"]
    assert recovery.figures["recovery_s"] is None
    isolated = judge("etcd-leader-loss-isolated")["recovery"]
    assert isolated.figures["recovery_s"] is not None and isolated.figures["recovery_s"] <= 3
