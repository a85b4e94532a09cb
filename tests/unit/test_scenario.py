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
        suite, plan, _ = load_plan(path)
        assert suite == name
        if name != "gate":
            assert [s.name for s, _ in plan] == [name]
    _, gate, jobs = load_plan(found["gate"])
    assert jobs == 1
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


# -- what the run would refuse before starting anything, refused when the file loads or the run is planned ------
STORM = "name: s\ntargets: [{bundled: configd}]\nfaults:\n  - {injector: reload_storm, target: configd%s}\n"


@pytest.mark.parametrize(("text", "message"), [
    (STORM % ", at_s: .inf", r"^s\.yaml:4: faults\.0\.at_s: must be a finite number, not inf; give a plain number "
                             r"\(YAML's \.inf and \.nan are not offsets, durations or rates\)$"),
    (STORM % ", at_s: .nan", r"^s\.yaml:4: faults\.0\.at_s: must be a finite number, not nan; "),
    (STORM % ", repeat: 2, every_s: .inf", r"^s\.yaml:4: faults\.0\.every_s: must be a finite number, not inf; "),
    ("name: s\ntargets: [{bundled: configd}]\nwindows: {baseline_s: 1, observe_s: .inf}\n",
     r"^s\.yaml:3: windows\.observe_s: must be a finite number, not inf; "),
    (STORM % ", params: {rounds: 10000, interval_ms: 600000}",
     r"^s\.yaml:4: faults\.0: the fault phase would last 69\.4 days \(reload_storm lasts up to 69\.4 days: rounds "
     r"10000 x interval_ms 600000\); at most 24 h: lower those figures, or split the chaos into several scenarios$"),
    (STORM % ", at_s: 86400",
     r"^s\.yaml:4: faults\.0: the fault phase would last 24 h 5\.6 s \(its last repetition starts up to 24 h in: "
     r"at_s 86400; reload_storm lasts up to 5\.6 s: rounds 5 x interval_ms 500\); at most 24 h: "),
    (STORM % ", at_s: 10, repeat: 1000, every_s: 100, jitter_s: 5",
     r"^s\.yaml:4: faults\.0: the fault phase would last 27 h 45 min 20\.6 s \(its last repetition starts up to "
     r"27 h 45 min 15 s in: at_s 10 \+ \(repeat 1000 - 1\) x every_s 100 \+ jitter_s 5; reload_storm lasts up to "
     r"5\.6 s: "),
    ("name: s\ntargets: [{bundled: kvd}]\nfaults:\n  - {injector: leader_loss, params: {election_timeout_s: .inf}}\n",
     r"^s\.yaml:4: faults\.0: the fault phase would last forever \(leader_loss lasts up to forever: duration_s 2, "
     r"election_timeout_s inf\); at most 24 h: "),
    (GOOD + "faults: []\n",
     r"^s\.yaml:10: faults: duplicate key `faults` at line 10 \(first at line 6\); YAML would keep only the second "
     r"and silently drop the first: merge them into one, or remove the one you do not mean$"),
    (GOOD.replace("    params: {rounds: 2}", "    params: {rounds: 2, rounds: 3}"),
     r"^s\.yaml:9: faults\.0\.params\.rounds: duplicate key `rounds` at line 9 \(first at line 9\)"),
    ("name: s\ntargets:\n  - name: svc\n    command: [./svc, '--listen={lisen}']\n",
     r"^s\.yaml:4: targets\.0\.command\.1: unknown placeholder \{lisen\} in '--listen=\{lisen\}'; did you mean "
     r"\{listen\}\? \(valid: \{binary\} \{listen\} \{host\} \{port\} \{config\} \{etcd_endpoints\} "
     r"\{etcd_endpoints_spaced\} \{workdir\} \{scenario_dir\}\); write \{\{ and \}\} for literal braces$"),
    ("name: s\ntargets:\n  - name: svc\n    command: [./svc]\n    ports: [admin]\n    env: {ADMIN: '{listen.admn}'}\n",
     r"^s\.yaml:6: targets\.0\.env\.ADMIN: unknown placeholder \{listen\.admn\} in '\{listen\.admn\}'; did you mean "
     r"\{listen\.admin\}\? "),
    ("name: s\ntargets:\n  - name: svc\n    command: [./svc]\n    ports: [admin]\nload:\n  - {user: configd}\n"
     "  - {user: configd, port: admn}\n",
     r"^s\.yaml:8: load\.1\.port: 'admn' is not one of target svc's `ports`; did you mean 'admin'\?"),
])
def test_what_the_run_would_refuse_is_refused_when_the_file_loads(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message) as caught:
        parse_scenario(text, "s.yaml")
    assert type(caught.value) is ScenarioError


def test_a_merge_key_may_still_override_what_it_brings_in() -> None:
    text = ("name: s\ntargets:\n  - &base {bundled: configd, flags: {reload_strategy: atomic}}\n"
            "  - <<: *base\n    name: other\n    flags: {reload_strategy: unsafe}\n")
    scenario = parse_scenario(text, "s.yaml")
    assert [(t.name, t.flags) for t in scenario.targets] == [(None, {"reload_strategy": "atomic"}),
                                                             ("other", {"reload_strategy": "unsafe"})]


def test_a_suite_with_a_key_given_twice_names_both_lines(tmp_path: Path) -> None:
    suite = tmp_path / "mine.chaos.yaml"
    suite.write_text("name: mine\nscenarios: [reload-panic]\nscenarios: [gc-pressure]\n")
    with pytest.raises(ScenarioError, match=r"^.*mine\.chaos\.yaml:3: scenarios: duplicate key `scenarios` at line 3 "
                                            r"\(first at line 2\); YAML would keep only the second"):
        load_plan(suite)


def test_a_placeholder_typo_in_a_config_file_is_refused_and_literal_braces_are_not(tmp_path: Path) -> None:
    (tmp_path / "svc.json").write_text('{"listen": "{listen}", "log": "{method} {path}",\n'
                                       ' "tpl": "{{.Name}}", "etcd": "{etcd_endpoints_spaced}", "x": "{lisen}"}\n')
    scenario = tmp_path / "svc.chaos.yaml"
    scenario.write_text("name: s\ntargets:\n  - name: svc\n    command: [./svc, '{config}', '{{\"a\": 1}}', "
                        "'{\"b\": 2}']\n    config_file: svc.json\n")
    with pytest.raises(ScenarioError, match=r"svc\.chaos\.yaml:5: targets\.0\.config_file: target svc: config "
                                            r"svc\.json:2:63: unknown placeholder \{lisen\}; did you mean \{listen\}\? "
                                            r"\(valid: \{binary\} "):
        load_scenario(scenario)
    (tmp_path / "svc.json").write_text('{"listen": "{listen}", "log": "{method} {path}",\n'
                                       ' "tpl": "{{.Name}}", "etcd": "{etcd_endpoints_spaced}"}\n')
    assert load_scenario(scenario).targets[0].config_file == "svc.json"


def test_a_config_file_that_is_missing_is_refused_with_its_line(tmp_path: Path) -> None:
    scenario = tmp_path / "svc.chaos.yaml"
    scenario.write_text("name: s\ntargets:\n  - name: svc\n    command: [./svc]\n    config_file: nowhere.yaml\n")
    with pytest.raises(ScenarioError, match=r"svc\.chaos\.yaml:5: targets\.0\.config_file: target svc: config_file "
                                            r".*nowhere\.yaml: No such file or directory; the path is relative to the "
                                            r"scenario file"):
        load_scenario(scenario)


NO_CONFIG = """\
name: s
targets:
  - name: svc
    command: [./svc, '--listen={listen}']
    reload: sighup
faults:
  - injector: reload_storm
    target: svc
    params: {pattern: unchanged, trigger_only: true}
"""


@pytest.mark.parametrize(("text", "message"), [
    (NO_CONFIG, r"^.*s\.chaos\.yaml:7: faults\.0: reload_storm on svc: no config to reload: svc has no `config_file`, "
                r"so its `reload: sighup` has nothing to trigger: give target svc a `config_file` \(its initial "
                r"config, relative to the scenario file, passed to it as \{config\}\); a trigger-only storm \(pattern: "
                r"unchanged, trigger_only: true\) needs one too, as the storm reads the config the service runs with$"),
    (NO_CONFIG.replace("    reload: sighup\n", ""), r"faults\.0: reload_storm on svc: no config to reload: svc has "
                                                    r"no `config_file`: give target svc a `config_file`"),
    ("name: s\ntargets: [{bundled: allocd}]\nfaults:\n  - {injector: reload_storm, target: allocd}\n",
     r"s\.chaos\.yaml:4: faults\.0: reload_storm on allocd: no config to reload: allocd is the bundled allocd, which "
     r"reads no config file: storm configd, or a service of your own with a `config_file`$"),
])
def test_a_reload_storm_on_a_target_with_no_config_is_refused_when_planning(tmp_path: Path, text: str,
                                                                             message: str) -> None:
    from chaos.plan import build_plan

    path = tmp_path / "s.chaos.yaml"
    path.write_text(text)
    scenario = load_scenario(path)
    for platform in ("local", "kubernetes"):
        with pytest.raises(ScenarioError, match=message) as caught:
            build_plan(scenario, tmp_path, platform=platform, seed=1)
        assert type(caught.value) is ScenarioError


def test_a_scenario_built_in_code_is_held_to_the_same_checks_when_planned(tmp_path: Path) -> None:
    """Scenario.model_validate skips the loader's checks: planning makes them all the same."""
    from chaos.plan import build_plan
    from chaos.scenario import Scenario

    long = Scenario.model_validate({"name": "s", "targets": [{"bundled": "configd"}], "faults": [
        {"injector": "reload_storm", "target": "configd", "params": {"rounds": 10000, "interval_ms": 600000}}]})
    with pytest.raises(ScenarioError, match=r"^faults\.0: the fault phase would last 69\.4 days"):
        build_plan(long, tmp_path, platform="local", seed=1)
    typo = Scenario.model_validate({"name": "s", "targets": [{"name": "svc", "command": ["./svc", "{lisen}"]}],
                                    "load": None})
    with pytest.raises(ScenarioError, match=r"^target svc: command\[1\]: unknown placeholder \{lisen\} in '\{lisen\}'; "
                                            r"did you mean \{listen\}\?"):
        build_plan(typo, tmp_path, platform="local", seed=1)
