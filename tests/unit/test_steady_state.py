"""The steady state during faults, judged from a timeline: each fault window against the baseline,
with the budget its fault.start event carries (the injector's default or the scenario's override)."""

from __future__ import annotations

import re

from chaos.client_budget import DISRUPTIVE, STRICT, ClientBudget
from chaos.injectors import create
from chaos.oracles import steady_state
from chaos.oracles.context import OracleContext, Phases
from chaos.timeline import EventKind, RequestRecord, Timeline
from chaos.verdict import Status

S = 1_000_000_000


def run(during_ok: bool, budget: ClientBudget = STRICT, *, latency_ms: float = 2.0,
        quiet_fault: bool = False) -> OracleContext:
    """1 s of healthy baseline, a fault from 1 s to 2 s, 1 s of observation; 200 requests a second."""
    timeline = Timeline()
    t0 = 10 * S
    for i in range(600):
        t = t0 + i * S // 200
        in_fault = t0 + S <= t < t0 + 2 * S
        if in_fault and quiet_fault:
            continue
        ok = during_ok or not in_fault
        timeline.add_requests([RequestRecord(t, latency_ms if in_fault else 2.0, ok, "GET /",
                                             200 if ok else 429, None if ok else "HTTP 429")])
    timeline.record(EventKind.FAULT_START, "reload_storm", t_ns=t0 + S, fault_id=1, target="svc",
                    steady_state=budget.model_dump())
    timeline.record(EventKind.FAULT_END, "reload_storm", t_ns=t0 + 2 * S, fault_id=1, target="svc", landed=True)
    return OracleContext([], timeline, Phases(t0, t0 + S, t0 + 2 * S, t0 + 3 * S))


def test_a_service_failing_every_request_during_a_storm_fails_naming_what_its_clients_got() -> None:
    finding = steady_state.check(run(during_ok=False))
    assert finding is not None and finding.status is Status.FAIL
    assert finding.summary == ("clients failed during reload_storm#1: 200 of 200 requests (100.0% > 1.0% allowed, "
                               "baseline 0.0%); most often GET /: status 429, HTTP 429 (200x)")
    assert finding.figures["windows"]["reload_storm#1"]["availability"] == 0.0
    assert "first failed request during reload_storm#1: GET /: status 429" in finding.evidence[0].text


def test_a_storm_its_clients_never_noticed_passes_with_what_they_saw() -> None:
    finding = steady_state.check(run(during_ok=True))
    assert finding is not None and finding.status is Status.PASS
    assert finding.summary == "200 of 200 requests ok during reload_storm#1 (availability 1.0000, p99 2.0 ms)"


def test_latency_is_judged_against_the_baseline_and_the_floor() -> None:
    slow = steady_state.check(run(during_ok=True, latency_ms=150.0))
    assert slow is not None and slow.status is Status.FAIL
    assert re.match(r"clients slowed during reload_storm#1: p99 1[45]\d\.\d ms > 100\.0 ms bound \(10x the "
                    r"baseline's 2\.\d ms, at least 100 ms\)$", slow.summary), slow.summary
    relaxed = steady_state.check(run(during_ok=True, latency_ms=150.0, budget=STRICT.merged(
        ClientBudget.model_validate({"p99_floor_ms": 200}))))
    assert relaxed is not None and relaxed.status is Status.PASS


def test_a_disruptive_fault_is_not_judged_and_says_nothing_rather_than_passing() -> None:
    assert steady_state.check(run(during_ok=False, budget=DISRUPTIVE)) is None


def test_no_request_during_a_fault_is_inconclusive_never_a_pass() -> None:
    finding = steady_state.check(run(during_ok=True, quiet_fault=True))
    assert finding is not None and finding.status is Status.INCONCLUSIVE
    assert "no request was made during reload_storm#1" in finding.summary


def test_each_injector_states_its_default_and_a_scenario_overrides_only_what_it_sets() -> None:
    storm = create("reload_storm", {}, "svc")
    assert storm.budget == STRICT
    loss = create("leader_loss", {}, None)
    assert loss.budget == DISRUPTIVE
    bounded = create("leader_loss", {}, None, ClientBudget.model_validate({"max_error_rate": 0.2}))
    assert bounded.budget.max_error_rate == 0.2 and bounded.budget.p99_factor is None
