"""Injector params: one model per mode where the fields differ, every combination checked at load time.

What the run would refuse for the params alone (a field of another gc_pressure method, a method with
nothing to apply) is refused by `create`, so loading the scenario, and with it `--dry-run`, refuses
it too, with the file, the line and the field. The params keep their recorded shape: the dry-run
line and the fault.start event show the same keys and values as before.
"""

from __future__ import annotations

from typing import Any

import pytest

from chaos.errors import ScenarioError
from chaos.injectors import create
from chaos.injectors.gc_pressure import (
    METHODS,
    RECORD,
    AgentPressure,
    CgroupPressure,
    EnvPressure,
    GCMethod,
    HogPressure,
)
from chaos.scenario import parse_scenario


@pytest.mark.parametrize(("params", "model"), [
    ({"method": "agent", "churn_mb_per_sec": 200, "gc_percent": 10}, AgentPressure),
    ({"ballast_mb": 64}, AgentPressure),  # method left out: agent
    ({"method": "agent", "force_gc_interval_ms": 10, "min_rate_factor": 2}, AgentPressure),
    ({"method": "env", "gc_percent": -1}, EnvPressure),
    ({"method": "env", "memory_limit_mb": 64, "min_rate_factor": 1.2}, EnvPressure),
    ({"method": "cgroup", "cpu_limit_millicores": 100}, CgroupPressure),
    ({"method": "cgroup", "memory_limit_mb": 256, "cpu_limit_millicores": 500, "duration_s": 60}, CgroupPressure),
    ({"method": "hog"}, HogPressure),
    ({"method": GCMethod.HOG, "hog_mb": 128, "hog_cpu": False, "duration_s": 1.5}, HogPressure),
])
def test_each_method_takes_its_own_fields(params: dict[str, Any], model: type[Any]) -> None:
    injector = create("gc_pressure", params, "allocd")
    assert type(injector.params) is model
    assert injector.params.method is GCMethod(params.get("method", "agent"))


def test_a_method_model_is_frozen() -> None:
    params = create("gc_pressure", {"method": "hog"}, "allocd").params
    with pytest.raises(ValueError, match="frozen"):
        params.hog_mb = 1


@pytest.mark.parametrize(("params", "message"), [
    ({"method": "agent", "churn_mb_per_sec": 50, "hog_mb": 64},
     "hog_mb: method agent does not take hog_mb (it is for method hog); remove it or change method"),
    ({"hog_cpu": False, "gc_percent": 10},
     "hog_cpu: method agent does not take hog_cpu (it is for method hog)"),
    ({"method": "agent", "gc_percent": 10, "cpu_limit_millicores": 100},
     "cpu_limit_millicores: method agent does not take cpu_limit_millicores (it is for method cgroup)"),
    ({"method": "env", "gc_percent": 5, "ballast_mb": 64},
     "ballast_mb: method env does not take ballast_mb (it is for method agent)"),
    ({"method": "env", "gc_percent": 5, "cpu_limit_millicores": 100},
     "cpu_limit_millicores: method env does not take cpu_limit_millicores (it is for method cgroup)"),
    ({"method": "cgroup", "memory_limit_mb": 64, "gc_percent": 10},
     "gc_percent: method cgroup does not take gc_percent (it is for method agent or env)"),
    ({"method": "cgroup", "memory_limit_mb": 64, "hog_mb": 64},
     "hog_mb: method cgroup does not take hog_mb (it is for method hog)"),
    ({"method": "hog", "memory_limit_mb": 64},
     "memory_limit_mb: method hog does not take memory_limit_mb (it is for method agent, env or cgroup)"),
    ({"method": "hog", "min_rate_factor": 2},
     "min_rate_factor: method hog does not take min_rate_factor (it is for method agent, env or cgroup)"),
])
def test_a_field_of_another_method_is_refused_naming_the_field_and_both_methods(
    params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ScenarioError) as refused:
        create("gc_pressure", params, "allocd")
    assert str(refused.value).startswith(f"injector gc_pressure params: {message}")


def test_every_field_of_another_method_is_named_in_one_message() -> None:
    with pytest.raises(ScenarioError) as refused:
        create("gc_pressure", {"method": "cgroup", "cpu_limit_millicores": 100, "ballast_mb": 3, "hog_cpu": False},
               "allocd")
    assert str(refused.value) == (
        "injector gc_pressure params: ballast_mb: method cgroup does not take ballast_mb (it is for method agent); "
        "remove it or change method; hog_cpu: method cgroup does not take hog_cpu (it is for method hog); "
        "remove it or change method")


@pytest.mark.parametrize(("params", "message"), [
    ({}, "method agent needs at least one of ballast_mb, churn_mb_per_sec, gc_percent, memory_limit_mb, "
         "force_gc_interval_ms"),
    ({"method": "agent", "duration_s": 3}, "method agent needs at least one of ballast_mb"),
    ({"method": "env", "duration_s": 3}, "method env needs gc_percent (GOGC) and/or memory_limit_mb (GOMEMLIMIT)"),
    ({"method": "cgroup"}, "method cgroup needs memory_limit_mb and/or cpu_limit_millicores"),
])
def test_a_method_with_nothing_to_apply_is_refused(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError) as refused:
        create("gc_pressure", params, "allocd")
    assert str(refused.value).startswith(f"injector gc_pressure params: {message}")


@pytest.mark.parametrize(("name", "params", "message"), [
    ("gc_pressure", {"method": "hgo"},
     "method: 'hgo' is not a gc_pressure method; did you mean 'hog'? (valid: agent, cgroup, env, hog)"),
    ("gc_pressure", {"method": "env", "gc_percnt": 5},
     "gc_percnt: Extra inputs are not permitted for method env; did you mean 'gc_percent'? "
     "(valid: duration_s, gc_percent, memory_limit_mb, method, min_rate_factor)"),
    ("gc_pressure", {"method": "hog", "hog_mib": 64},
     "hog_mib: Extra inputs are not permitted for method hog; did you mean 'hog_mb'?"),
    ("reload_storm", {"rouns": 2}, "rouns: Extra inputs are not permitted; did you mean 'rounds'?"),
    ("leader_loss", {"mdoe": "kill"},
     "mdoe: Extra inputs are not permitted; did you mean 'mode'? (valid: duration_s, election_timeout_s, mode)"),
])
def test_unknown_names_get_a_did_you_mean(name: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError) as refused:
        create(name, params, "allocd")
    assert message in str(refused.value)


@pytest.mark.parametrize(("params", "message"), [
    ({"method": "env", "gc_percent": -5}, "gc_percent: Input should be greater than or equal to -1"),
    ({"method": "hog", "hog_mb": 0}, "hog_mb: Input should be greater than or equal to 1"),
    ({"method": "cgroup", "memory_limit_mb": 64, "duration_s": 0}, "duration_s: Input should be greater than 0"),
])
def test_field_bounds_are_named_by_the_field_alone(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=r"^injector gc_pressure params: ") as refused:
        create("gc_pressure", params, "allocd")
    assert str(refused.value) == f"injector gc_pressure params: {message}"


# -- the recorded shape ---------------------------------------------------------------------------
NONE_OF_AGENT = {"ballast_mb": None, "churn_mb_per_sec": None, "gc_percent": None, "memory_limit_mb": None,
                 "force_gc_interval_ms": None}


@pytest.mark.parametrize(("params", "recorded", "plan"), [
    ({"method": "agent", "churn_mb_per_sec": 200, "gc_percent": 10, "duration_s": 3},
     {"method": "agent", "duration_s": 3.0, **NONE_OF_AGENT, "churn_mb_per_sec": 200, "gc_percent": 10,
      "cpu_limit_millicores": None, "hog_mb": 256, "hog_cpu": True, "min_rate_factor": 1.5},
     "method=agent, duration_s=3.0, churn_mb_per_sec=200, gc_percent=10, hog_mb=256, hog_cpu=True, "
     "min_rate_factor=1.5"),
    ({"method": "cgroup", "cpu_limit_millicores": 100, "duration_s": 3},
     {"method": "cgroup", "duration_s": 3.0, **NONE_OF_AGENT, "cpu_limit_millicores": 100, "hog_mb": 256,
      "hog_cpu": True, "min_rate_factor": 1.5},
     "method=cgroup, duration_s=3.0, cpu_limit_millicores=100, hog_mb=256, hog_cpu=True, min_rate_factor=1.5"),
    ({"method": "env", "gc_percent": 5, "duration_s": 1},
     {"method": "env", "duration_s": 1.0, **NONE_OF_AGENT, "gc_percent": 5, "cpu_limit_millicores": None,
      "hog_mb": 256, "hog_cpu": True, "min_rate_factor": 1.5},
     "method=env, duration_s=1.0, gc_percent=5, hog_mb=256, hog_cpu=True, min_rate_factor=1.5"),
    ({"method": "hog", "hog_mb": 128, "hog_cpu": False, "duration_s": 1.5},
     {"method": "hog", "duration_s": 1.5, **NONE_OF_AGENT, "cpu_limit_millicores": None, "hog_mb": 128,
      "hog_cpu": False, "min_rate_factor": 1.5},
     "method=hog, duration_s=1.5, hog_mb=128, hog_cpu=False, min_rate_factor=1.5"),
])
def test_the_recorded_params_keep_every_methods_fields_in_their_order(
    params: dict[str, Any], recorded: dict[str, Any], plan: str
) -> None:
    """fault.start records `params.model_dump()`; the dry run prints `plan()`: both as they always were."""
    injector = create("gc_pressure", params, "allocd")
    dumped = injector.params.model_dump()
    assert dumped == recorded and list(dumped) == list(RECORD)
    assert isinstance(dumped["method"], GCMethod)
    assert injector.params.model_dump(mode="json") == recorded
    assert injector.plan() == f"gc_pressure on allocd: {plan}"


def test_every_methods_fields_have_a_place_in_the_record() -> None:
    assert {name for model in METHODS for name in model.model_fields} == set(RECORD)


def test_the_other_injectors_record_their_params_unchanged() -> None:
    storm = create("reload_storm", {"pattern": "incident", "rounds": 5, "interval_ms": 400, "pair_gap_ms": 100},
                   "configd")
    assert storm.plan() == ("reload_storm on configd: pattern=incident, rounds=5, interval_ms=400, pair_gap_ms=100, "
                            "write_mode=rename, jitter_ms=0, settle_ms=3000, trigger_only=False")
    loss = create("leader_loss", {"mode": "move", "duration_s": 0.5}, None)
    assert loss.params.model_dump(mode="json") == {"mode": "move", "duration_s": 0.5, "election_timeout_s": 10.0}


# -- at load time ---------------------------------------------------------------------------------
SCENARIO = """\
name: gc
targets:
  - bundled: allocd
faults:
  - injector: gc_pressure
    target: allocd
    params: {PARAMS}
"""


@pytest.mark.parametrize(("params", "message"), [
    ("{method: env, gc_percent: 5, hog_mb: 64}",
     r"^gc\.chaos\.yaml:7: faults\.0\.params: injector gc_pressure params: hog_mb: method env does not take "
     r"hog_mb \(it is for method hog\); remove it or change method$"),
    ("{method: cgroup, duration_s: 3}",
     r"^gc\.chaos\.yaml:7: faults\.0\.params: injector gc_pressure params: method cgroup needs memory_limit_mb "
     r"and/or cpu_limit_millicores$"),
    ("{method: hgo}", r"^gc\.chaos\.yaml:7: faults\.0\.params: injector gc_pressure params: method: 'hgo' is not "
                      r"a gc_pressure method; did you mean 'hog'\?"),
])
def test_loading_a_scenario_refuses_the_combination_with_file_line_and_field(params: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(SCENARIO.replace("{PARAMS}", params), "gc.chaos.yaml")


def test_a_valid_combination_loads() -> None:
    scenario = parse_scenario(SCENARIO.replace("{PARAMS}", "{method: hog, hog_mb: 64}"), "gc.chaos.yaml")
    assert scenario.faults[0].params == {"method": "hog", "hog_mb": 64}


def test_a_storm_by_duration_runs_the_rounds_that_start_within_it() -> None:
    storm = create("reload_storm", {"pattern": "value", "for_s": 2.2, "interval_ms": 500}, "configd")
    # round starts at 0, 0.5, 1.0, 1.5, 2.0 s: five, then the pair gap and the settle time
    assert storm.expected_duration_s() == pytest.approx((5 * 500 + 100 + 3000) / 1000)


@pytest.mark.parametrize(("params", "message"), [
    ({"for_s": 5, "rounds": 3}, "give `rounds` or `for_s`, not both"),
    ({"for_s": 0}, "for_s"),
    ({"for_s": 7200}, "for_s"),
])
def test_a_storm_is_bounded_by_rounds_or_by_a_duration_not_both(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        create("reload_storm", {"pattern": "value", **params}, "configd")
