"""Scenario validation: every error names the file, the line and the field, and suggests a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import ScenarioError
from chaos.scenario import bundled_scenarios, load_plan, load_scenario, parse_scenario, resolve

GOOD = """
name: smoke
targets:
  - bundled: configd
    flags: {reload_strategy: atomic}
faults:
  - injector: reload_storm
    target: configd
    params: {rounds: 2}
"""


def test_a_valid_scenario_loads_with_defaults() -> None:
    scenario = parse_scenario(GOOD, "smoke.chaos.yaml")
    assert scenario.name == "smoke" and scenario.oracles == ("panics",)
    assert scenario.windows.baseline_s == 3.0 and scenario.faults[0].params == {"rounds": 2}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("injector: reload_storm", "injector: reload_strom"),
         r"s\.yaml:7: faults\.0\.injector: unknown injector 'reload_strom'; "
         r"did you mean 'reload_storm'\?"),
        (GOOD.replace("bundled: configd", "bundled: confgd"),
         r"^s\.yaml:4: targets\.0: unknown bundled target 'confgd'; did you mean 'configd'\? "
         r"\(valid: allocd, configd, kvd\)$"),
        (GOOD.replace("    target: configd\n    params", "    target: kvd\n    params"),
         r"s\.yaml:8: faults\.0\.target: 'kvd' is not a target of this scenario \(valid: configd\)$"),
        (GOOD.replace("faults:", "fautls:"),
         r"s\.yaml:6: fautls: unknown field 'fautls'; did you mean 'faults'\?"),
        (GOOD.replace("params: {rounds: 2}", "params: {rounds: 0}"),
         r"s\.yaml:9: faults\.0\.params: injector reload_storm params: rounds: "
         r"Input should be greater than or equal to 1"),
        (GOOD.replace("params: {rounds: 2}", "params: {rouns: 2}"),
         r"injector reload_storm params: rouns: Extra inputs are not permitted"),
        (GOOD + "oracles: [panic]\n", r"s\.yaml:10: oracles\.0: unknown oracle 'panic'; did you mean 'panics'\?"),
        ("name: x\ntargets: [\n", r"s\.yaml:3: not valid YAML"),
        ("- just a list\n", r"s\.yaml: the file holds a YAML list, but a scenario is a YAML mapping"),
        (GOOD.replace("name: smoke", "name: Smoke Test"),
         r"s\.yaml:2: name: String should match pattern"),
        ("name: x\ntargets:\n  - command: [./svc]\n",
         r"s\.yaml:3: targets\.0: a service given by `command` needs a `name`"),
    ],
)
def test_invalid_scenarios_say_where_and_what(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(text, "s.yaml")


def test_missing_file_and_unknown_bundled_name(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"cannot read scenario: No such file"):
        load_scenario(tmp_path / "nope.chaos.yaml")
    with pytest.raises(ScenarioError, match=r"scenario file .*nope\.yaml does not exist"):
        resolve(str(tmp_path / "nope.yaml"))
    with pytest.raises(ScenarioError, match=r"no bundled scenario 'reload-panik'; did you mean 'reload-panic'\?"):
        resolve("reload-panik")


def test_every_bundled_scenario_validates_and_the_gate_holds_the_incidents() -> None:
    found = bundled_scenarios()
    assert set(found) >= {"reload-panic", "cache-map-race", "etcd-leader-loss", "gc-pressure", "gate"}
    for name, path in found.items():
        suite, plan = load_plan(path)
        assert suite == name
        if name != "gate":
            assert [s.name for s, _ in plan] == [name]
    _, gate = load_plan(found["gate"])
    assert [s.name for s, _ in gate] == ["reload-panic", "cache-map-race", "etcd-leader-loss", "gc-pressure"]
    assert all(entry.buggy_flags for s, _ in gate for entry in s.targets), "every member needs a buggy switch"


def test_a_suite_with_an_unknown_member_names_it(tmp_path: Path) -> None:
    suite = tmp_path / "mine.chaos.yaml"
    suite.write_text("name: mine\nscenarios: [reload-panic, reload-panik]\n")
    with pytest.raises(ScenarioError, match=r"no bundled scenario 'reload-panik'; did you mean 'reload-panic'"):
        load_plan(suite)


PUBLISHED = """
name: published
targets:
  - name: dns
    go_install: github.com/coredns/coredns@v1.8.6
    buggy_go_install: github.com/coredns/coredns@v1.8.5
    command: ["{binary}", "-conf", "{config}"]
"""


def test_reproduce_runs_the_buggy_release_of_a_go_install_service(tmp_path: Path) -> None:
    entry = parse_scenario(PUBLISHED, "p.chaos.yaml").targets[0]
    assert entry.spec(tmp_path).go_install == "github.com/coredns/coredns@v1.8.6"
    assert entry.spec(tmp_path, buggy=True).go_install == "github.com/coredns/coredns@v1.8.5"
    alone = parse_scenario(PUBLISHED.replace("    buggy_go_install: github.com/coredns/coredns@v1.8.5\n", ""),
                           "p.chaos.yaml").targets[0]
    assert alone.spec(tmp_path, buggy=True).go_install == "github.com/coredns/coredns@v1.8.6"


@pytest.mark.parametrize(("text", "message"), [
    (PUBLISHED.replace("    go_install: github.com/coredns/coredns@v1.8.6\n", "").replace('"{binary}"', '"./dns"'),
     r"p\.yaml:4: targets\.0: .*`buggy_go_install` is the buggy release of a `go_install` service: give "
     r"`go_install` \(the fixed release\) too"),
    (PUBLISHED.replace("coredns@v1.8.5", "coredns@main"),
     r"p\.yaml:6: targets\.0\.buggy_go_install: .*'main' in 'github\.com/coredns/coredns@main' is not a pinned "
     r"version"),
])
def test_a_buggy_release_needs_a_fixed_one_and_a_pinned_version(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(text, "p.yaml")
