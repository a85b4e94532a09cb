"""A small hand-built RunResult for the report unit tests (the real thing is in tests/integration).

Timeline of the sample, in ms since the baseline start (phases: baseline 0-2000, faults
2000-4000, observe 4000-6000): reload_storm #1 from 2000 to 4000, a valid reload at 2010, an
invalid one at 2110, a crash at 2200, a requested restart at 2400; one request every 10 ms, all
failing from 2200 to 2400, none at all from 5000 to 5300.
"""

from __future__ import annotations

from collections.abc import Sequence

from chaos.injectors.base import FaultOutcome, FaultReport
from chaos.oracles.context import Phases
from chaos.run_result import RunResult
from chaos.scenario import Scenario
from chaos.timeline import EventKind, RequestRecord, Timeline
from chaos.verdict import Evidence, Finding, Status, decide

MS = 1_000_000
T0 = 1_700_000_000 * 1_000_000_000
STACK = ("configd panic: assignment to entry in nil map <map[string]*Route>\n"
         "goroutine 7 [running]:\n\x1b[31mmain.apply(0xc000)\x1b[0m\n\tunsafe.go:160 +0x62d")


def sample_findings() -> list[Finding]:
    return [
        Finding("fault:reload_storm#1", Status.PASS, "reload_storm landed: 2 writes",
                (Evidence(T0 + 2000 * MS, "started on configd"),), {"writes": 2}),
        Finding("panics", Status.FAIL, "configd: panic: assignment to entry in nil map & more",
                (Evidence(T0 + 2190 * MS, STACK), Evidence(None, "1 restart")),
                {"crashes": 1, "restarts": 1}),
        Finding("recovery", Status.INCONCLUSIVE, "too few requests after the fault to judge",
                (Evidence(T0 + 4000 * MS, "12 requests in 1 s"),), {"recovery_s": None}),
    ]


def sample_result(findings: Sequence[Finding] | None = None, *, buggy: bool = True, seed: int = 7,
                  name: str = "sample-run", requests: bool = True) -> RunResult:
    scenario = Scenario.model_validate({
        "name": name, "description": "A <sample> run & its faults.",
        "targets": [{"bundled": "configd"}],
    })
    timeline = Timeline()

    def at(ms: float) -> int:
        return T0 + int(ms * MS)

    timeline.record(EventKind.TARGET_START, "configd", t_ns=at(-500), pid=100, port=8080)
    timeline.record(EventKind.FAULT_START, "reload_storm", t_ns=at(2000), fault_id=1, target="configd")
    timeline.record(EventKind.RELOAD_WRITE, "reload_storm", t_ns=at(2010), target="configd", version="v1",
                    valid=True, mutation="value")
    timeline.record(EventKind.RELOAD_WRITE, "reload_storm", t_ns=at(2110), target="configd", version="v2",
                    valid=False, mutation="structural")
    timeline.record(EventKind.TARGET_EXIT, "configd", t_ns=at(2200), pid=100, returncode=2, signal=None,
                    requested=False, incarnation=1)
    timeline.record(EventKind.TARGET_START, "configd", t_ns=at(2400), pid=101, requested=True)
    timeline.record(EventKind.FAULT_END, "reload_storm", t_ns=at(4000), fault_id=1, target="configd", landed=True)
    if requests:
        timeline.add_requests(
            RequestRecord(t_ns=at(ms), latency_ms=40.0 if 2000 <= ms < 4000 else 2.0,
                          ok=not 2200 <= ms < 2400, name="/")
            for ms in range(0, 6000, 10) if not 5000 <= ms < 5300
        )
    found = sample_findings() if findings is None else list(findings)
    fault = FaultReport("reload_storm", 1, "configd", at(2000), at(4000),
                        FaultOutcome(True, "2 writes", {"writes": 2}))
    return RunResult(
        scenario=scenario, verdict=decide(found), timeline=timeline,
        phases=Phases(at(0), at(2000), at(4000), at(6000)), seed=seed, buggy=buggy, faults=[fault],
        target_logs={"configd": "started\n" + STACK},
    )
