"""The Plan: what the dry run prints is the object the run follows (targets, etcd, load, faults)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

import chaos.load
import chaos.runner
from chaos.errors import ExitCode, UsageError
from chaos.plan import LOAD_SLACK_S, Plan, build_plan, describe
from chaos.platform.factory import PLATFORMS, platform_kind
from chaos.report import overall_status
from chaos.run_result import RunResult
from chaos.runner import QuietProgress, run_scenario
from chaos.scenario import EtcdEntry, Scenario, TargetEntry
from chaos.targets import ConfigDelivery
from chaos.timeline import Timeline
from chaos.verdict import Finding, Status, decide

HERE = Path(".")


def scenario(**fields: Any) -> Scenario:
    return Scenario.model_validate({"name": "planned", "targets": [{"bundled": "configd"}], **fields})


def storm(write_mode: str) -> Scenario:
    return scenario(faults=[{"injector": "reload_storm", "target": "configd",
                             "params": {"rounds": 2, "write_mode": write_mode}}])


def target_line(lines: list[str], name: str) -> str:
    """The env/readiness/config line printed under target `name`."""
    return lines[lines.index(next(line for line in lines if line.startswith(f"  {name}: "))) + 1]


def test_a_configmap_api_storm_on_kubernetes_shows_the_config_mounted_from_the_configmap() -> None:
    plan = build_plan(storm("configmap-api"), HERE, platform="kubernetes", seed=1)
    (configd,) = plan.targets
    assert configd.config is not None and configd.config.delivery is ConfigDelivery.CONFIGMAP
    assert "; config config.yaml mounted from ConfigMap configd-config (reload by watch)" in \
        target_line(describe(plan), "configd")


def test_without_that_fault_the_config_comes_from_the_nodes_shared_directory() -> None:
    plan = build_plan(storm("rename"), HERE, platform="kubernetes", seed=1)
    assert plan.targets[0].config is not None and plan.targets[0].config.delivery is ConfigDelivery.FILE
    assert "; config config.yaml in the node's shared directory (reload by watch)" in \
        target_line(describe(plan), "configd")
    local = describe(build_plan(storm("rename"), HERE, platform="local", seed=1))
    assert target_line(local, "configd").endswith("restart always; config config.yaml (reload by watch)")


def test_the_load_limit_printed_is_the_one_the_load_runs_with(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    planned = scenario(windows={"baseline_s": 2, "observe_s": 4},
                       faults=[{"injector": "reload_storm", "target": "configd", "at_s": 1.5,
                                "params": {"rounds": 3}}])
    plan = build_plan(planned, HERE, platform="local", seed=3)
    (fault,) = plan.schedule
    assert plan.fault_budget_s == 1.5 + fault.injector.expected_duration_s()
    (load,) = plan.loads
    assert load.limit_s == 2 + 4 + plan.fault_budget_s + LOAD_SLACK_S
    assert (load.target, load.user, load.users, load.port) == ("configd", "configd", 10, None)
    assert f"load: 10 configd users on configd, spawn rate 50/s; stopped after at most {load.limit_s:g}s" \
        in describe(plan)

    started: list[Any] = []

    class FakeLoadRun:
        def __init__(self, spec: Any, timeline: Timeline, log_dir: Path) -> None:
            started.append(spec)

        def kill(self) -> None:
            pass

        def start(self) -> None:
            pass

    class FakeTarget:
        spec = plan.targets[0]
        endpoint = type("Endpoint", (), {"url": "http://127.0.0.1:1"})()

        def endpoint_for(self, port: str | None) -> Any:
            assert port is None
            return self.endpoint

    monkeypatch.setattr(chaos.runner, "LoadRun", FakeLoadRun)
    with ExitStack() as stack:
        runs_on: Any = type("Platform", (), {"run_dir": tmp_path})()
        chaos.runner._start_load(load, [FakeTarget()], runs_on, Timeline(),  # type: ignore[list-item]
                                 stack, QuietProgress())
    (spec,) = started
    assert (spec.duration_s, spec.host, spec.user, spec.users) == \
        (load.limit_s, "http://127.0.0.1:1", "configd", 10)


def test_load_with_no_user_that_fits_is_refused_when_planning() -> None:
    own = {"name": "own", "targets": [{"name": "svc", "command": ["/bin/true"]}]}
    with pytest.raises(UsageError, match=r"load on svc: no built-in user fits it; set load\.user"):
        build_plan(Scenario.model_validate(own), HERE, platform="local")
    plan = build_plan(Scenario.model_validate({**own, "load": {"user": "my.module:User"}}), HERE, platform="local")
    assert [load.user for load in plan.loads] == ["my.module:User"]


def test_etcd_is_planned_once_from_the_scenario_or_its_defaults() -> None:
    assert build_plan(scenario(), HERE, platform="local").etcd is None
    assert "etcd: none" in describe(build_plan(scenario(), HERE, platform="local"))
    kvd = Scenario.model_validate({"name": "kv", "targets": [{"bundled": "kvd"}]})
    plan = build_plan(kvd, HERE, platform="local")
    assert plan.etcd == EtcdEntry()
    assert f"etcd: {plan.etcd.members} members on loopback, heartbeat {plan.etcd.heartbeat_ms} ms, " \
           f"election {plan.etcd.election_ms} ms" in describe(plan)
    sized = build_plan(scenario(etcd={"members": 5, "election_ms": 900}), HERE, platform="kubernetes")
    assert sized.etcd == EtcdEntry(members=5, election_ms=900)
    assert "etcd: 5 members as the StatefulSet of manifests/etcd in the run's namespace, heartbeat 50 ms, " \
           "election 900 ms" in describe(sized)


def test_the_plan_carries_the_seed_and_the_schedule_the_dry_run_prints() -> None:
    buggy = storm("rename").model_copy(update={"targets": (TargetEntry(bundled="configd",
                                                                       buggy_flags={"reload_strategy": "unsafe"}),)})
    plan = build_plan(buggy, HERE, platform="local", buggy=True, seed=77)
    lines = describe(plan)
    assert plan.seed == 77 and plan.buggy and "(buggy build)" in lines[0] and "seed 77" in lines[0]
    assert [line for line in lines if line.startswith("  +")] == \
        [f"  +{f.at_s:8.3f}s  {f.injector.plan()}; lasts at most {f.injector.expected_duration_s():g}s"
         for f in plan.schedule]


def test_run_scenario_follows_the_plan_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    followed: list[Plan] = []

    def follow(plan: Plan, **_: Any) -> RunResult:
        followed.append(plan)
        raise _Stop

    class _Stop(Exception):
        pass

    monkeypatch.setattr(chaos.runner, "_run", follow)
    plan = build_plan(storm("rename"), HERE, platform="local", seed=5)
    with pytest.raises(_Stop):
        run_scenario(plan)
    assert followed == [plan] and followed[0] is plan
    with pytest.raises(TypeError, match="already planned"):
        run_scenario(plan, seed=6)
    with pytest.raises(_Stop):
        run_scenario(storm("rename"), base_dir=HERE, seed=5)
    assert followed[1].seed == 5 and followed[1].platform.name == "local" and not followed[1].buggy


def test_unknown_platforms_are_refused_in_one_place() -> None:
    assert PLATFORMS == ("local", "kubernetes") and platform_kind("local").name == "local"
    with pytest.raises(UsageError, match="unknown platform 'mars'; choose from local, kubernetes"):
        build_plan(scenario(), HERE, platform="mars")


def test_one_precedence_and_one_exit_code_per_status() -> None:
    def finding(status: Status) -> Finding:
        return Finding("check", status, "")

    for statuses, expected in (([Status.PASS, Status.INCONCLUSIVE, Status.FAIL], Status.FAIL),
                               ([Status.PASS, Status.INCONCLUSIVE], Status.INCONCLUSIVE),
                               ([Status.PASS], Status.PASS), ([], Status.INCONCLUSIVE),
                               # a crash seen before the suite's own error is still the service's failure
                               ([Status.ERROR, Status.FAIL, Status.PASS], Status.FAIL),
                               ([Status.ERROR, Status.INCONCLUSIVE], Status.ERROR),
                               ([Status.FAIL, Status.ABORTED], Status.ABORTED)):
        assert overall_status(statuses) is expected
        assert decide(map(finding, statuses)).status is expected
    assert {s: s.exit_code for s in Status} == {Status.PASS: ExitCode.PASS, Status.FAIL: ExitCode.FAIL,
                                                Status.INCONCLUSIVE: ExitCode.INCONCLUSIVE,
                                                Status.ERROR: ExitCode.INFRASTRUCTURE,
                                                Status.ABORTED: ExitCode.INTERRUPTED}
    assert decide([finding(Status.FAIL)]).exit_code is ExitCode.FAIL


def test_worker_pods_need_a_deployed_service_to_load() -> None:
    scenario = {"name": "w", "targets": [{"name": "web", "deployed": {
        "namespace": "shop", "workload": "deployment/web", "port": 8080}}],
        "load": {"user": "configd", "worker_pods": 2}}
    with pytest.raises(UsageError, match=r"load\.worker_pods: .* give the target `deployed\.service`"):
        build_plan(Scenario.model_validate(scenario), HERE, platform="kubernetes")
    scenario["targets"][0]["deployed"]["service"] = "web"  # type: ignore[index]
    plan = build_plan(Scenario.model_validate(scenario), HERE, platform="kubernetes")
    assert [load.worker_pods for load in plan.loads] == [2]
    assert any("run by 2 worker pods beside this run" in line for line in describe(plan))


def test_a_buggy_run_of_a_scenario_with_no_bug_to_switch_on_is_refused() -> None:
    own = Scenario.model_validate({"name": "own", "targets": [{"name": "svc", "command": ["/bin/true"]}],
                                   "load": {"user": "my.module:User"}})
    with pytest.raises(UsageError, match=r"scenario own: the buggy build was asked for .* no target says what that "
                                         r"is, so it would run the fixed build again: give a target `buggy_flags`"):
        build_plan(own, HERE, platform="local", buggy=True)
    assert not build_plan(own, HERE, platform="local").buggy
