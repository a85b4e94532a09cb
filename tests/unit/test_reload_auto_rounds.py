"""`rounds: auto`: one round per mutation site of the target's config, known to the dry run and to the
fault's duration bound, the same count the storm's WriteSource explores; capped at 10000 and said so;
a bound when the config is only known at the run's start (a deployed service)."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest

from chaos.configs.formats import ConfigFormat
from chaos.errors import ScenarioError
from chaos.injectors import create
from chaos.injectors.reload import ReloadStorm
from chaos.injectors.reload_sources import AUTO_ROUNDS_CAP, WriteSource, auto_rounds
from chaos.plan import build_plan, describe
from chaos.scenario import Scenario
from chaos.targets import TargetSpec, fill_config_text

REPO = Path(__file__).resolve().parents[2]
GO_CONFIGS = REPO / "go_targets" / "configs"


def scenario(config: str, params: dict[str, Any], **target: Any) -> Scenario:
    return Scenario.model_validate({
        "name": "auto", "targets": [{"name": "svc", "command": ["/bin/true", "--config={config}"],
                                     "config_file": str(GO_CONFIGS / config), "ports": ["admin"], **target}],
        "load": {"user": "configd"}, "faults": [{"injector": "reload_storm", "target": "svc", "params": params}]})


class _Running:
    """What a storm reads of its running target when it counts its rounds."""

    def __init__(self, spec: TargetSpec, placeholders: dict[str, str]) -> None:
        self.spec, self.placeholders = spec, placeholders


def _storm(plan: Any) -> ReloadStorm:
    storm = plan.schedule[0].injector
    assert isinstance(storm, ReloadStorm)
    return storm


@pytest.mark.parametrize("config", ["cfgsvc.yaml", "cfgsvc.json", "cfgsvc.toml"])
def test_rounds_auto_is_the_site_count_in_the_plan_and_in_the_run(config: str) -> None:
    params = {"pattern": "auto", "rounds": "auto", "interval_ms": 100, "settle_ms": 500}
    plan = build_plan(scenario(config, params), REPO, platform="local", seed=1)
    storm = _storm(plan)
    (spec,) = plan.targets
    # what the storm explores once it runs, with the platform's real addresses
    values = {"listen": "127.0.0.1:43001", "listen.admin": "127.0.0.1:43002", "host": "127.0.0.1",
              "port": "43001", "port.admin": "43002", "config": "/w/c", "workdir": "/w", "binary": "/bin/true",
              "etcd_endpoints": "", "etcd_endpoints_spaced": ""}
    original = fill_config_text(spec, values)
    source = WriteSource(original, ConfigFormat.of(config), config, version_key=None, values=values, variants=(),
                         mutator="auto", rng=random.Random(1), tag="t")
    sites = source.sites_total
    assert 100 < sites < AUTO_ROUNDS_CAP
    assert storm.expected_duration_s() == pytest.approx((sites * 100 + 100 + 500) / 1000)
    assert plan.fault_budget_s == pytest.approx(storm.expected_duration_s())
    lines = describe(plan)
    assert any("+   0.000s  reload_storm on svc: pattern=auto, rounds=auto" in line for line in lines)
    assert f"             pattern auto, rounds auto: {sites} mutation sites of the config (`gochaos explain " \
           f"operators`), each written once on the original config, likeliest breakers first: {sites} rounds" in lines
    storm._target, storm._original = _Running(spec, values), original  # type: ignore[assignment]
    assert storm._round_count() == sites


def test_a_run_never_has_more_rounds_than_the_plan_counted() -> None:
    plan = build_plan(scenario("cfgsvc.yaml", {"pattern": "auto", "rounds": "auto"}), REPO, platform="local", seed=1)
    storm = _storm(plan)
    planned = storm._round_count()
    (spec,) = plan.targets
    # on another platform fewer values are addresses to protect: more sites than the plan budgeted
    values = {"listen": "0.0.0.0:8080", "listen.admin": "0.0.0.0:8081", "host": "0.0.0.0", "port": "8080",
              "port.admin": "8081"}
    storm._target, storm._original = _Running(spec, values), fill_config_text(spec, values)  # type: ignore[assignment]
    assert storm._round_count() == planned


def test_the_cap_is_applied_and_said() -> None:
    assert auto_rounds(25_000) == AUTO_ROUNDS_CAP and auto_rounds(None) == AUTO_ROUNDS_CAP
    assert auto_rounds(0) == 1 and auto_rounds(7) == 7


def test_rounds_auto_before_the_plan_knows_the_config_is_bounded_by_the_cap() -> None:
    storm = create("reload_storm", {"pattern": "auto", "rounds": "auto", "interval_ms": 100}, "svc")
    assert storm.expected_duration_s() == pytest.approx((AUTO_ROUNDS_CAP * 100 + 100 + 3000) / 1000)


def test_a_deployed_service_is_planned_with_the_bound_and_says_so() -> None:
    deployed = Scenario.model_validate({
        "name": "web", "targets": [{"name": "web", "deployed": {"namespace": "shop", "workload": "deployment/web",
                                                                  "port": 8080,
                                                                  "config": {"configmap": "c", "key": "c.yaml"}}}],
        "load": {"user": "configd"},
        "faults": [{"injector": "reload_storm", "target": "web",
                    "params": {"pattern": "auto", "rounds": "auto", "interval_ms": 200}}]})
    plan = build_plan(deployed, Path("."), platform="kubernetes", seed=1)
    assert _storm(plan).expected_duration_s() == pytest.approx((AUTO_ROUNDS_CAP * 200 + 100 + 3000) / 1000)
    assert any("not known before the run), at most 10000; the plan budgets 10000 rounds" in line
               for line in describe(plan))


@pytest.mark.parametrize(("params", "message"), [
    ({"pattern": "value", "rounds": "auto"}, "rounds: auto is one round per mutation site of the config, which only "
                                             "pattern auto writes (pattern is value)"),
    ({"pattern": "auto", "rounds": "all"}, "rounds: Input should be a valid integer, unable to parse string as an "
                                           "integer, or 'auto'"),
    ({"pattern": "auto", "rounds": 0}, "rounds: Input should be greater than or equal to 1"),
    ({"pattern": "auto", "rounds": "auto", "for_s": 3}, "give `rounds` or `for_s`, not both"),
])
def test_rounds_auto_is_refused_where_it_means_nothing(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(message)):
        create("reload_storm", params, "svc")


def test_rounds_auto_on_a_config_the_suite_does_not_parse_is_refused_by_the_plan() -> None:
    message = ("rounds: auto runs one round per mutation site of the config's own tree, but its config cfgsvc.yaml "
               "is in a format the suite does not parse")
    with pytest.raises(ScenarioError, match=re.escape(message)):
        build_plan(scenario("cfgsvc.yaml", {"pattern": "auto", "rounds": "auto"}, format="text"), REPO,
                   platform="local", seed=1)


def test_an_integer_rounds_still_records_and_plans_as_before() -> None:
    storm = create("reload_storm", {"pattern": "auto", "rounds": 12, "interval_ms": 250}, "svc")
    assert storm.params.rounds == 12 and storm.expected_duration_s() == pytest.approx((12 * 250 + 100 + 3000) / 1000)
    assert create("reload_storm", {"pattern": "auto", "rounds": "auto"}, "svc").params.model_dump(mode="json")[
        "rounds"] == "auto"
