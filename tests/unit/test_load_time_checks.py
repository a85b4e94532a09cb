"""Checked when the scenario loads (so `--dry-run` refuses them): bundled targets' flags, held to
their Go `main.go`, and `load.options`, held to LoadSpec; each error names file:line:field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chaos.build import go_targets_dir
from chaos.errors import ScenarioError, TargetError
from chaos.plan import build_plan
from chaos.scenario import load_plan, parse_scenario
from chaos.targets import BUNDLED, BUNDLED_FLAGS, SUITE_FLAGS, FlagKind, bundled, flag_problems

_GO_FLAG = re.compile(r'flag\.(String|Int|Bool|Duration)\("([a-z0-9-]+)"')


@pytest.mark.parametrize("kind", list(BUNDLED))
def test_the_declared_flags_are_those_of_the_go_main(kind: str) -> None:
    main = (go_targets_dir() / "cmd" / kind / "main.go").read_text(encoding="utf-8")
    in_go = {name.replace("-", "_"): FlagKind(go_type.lower()) for go_type, name in _GO_FLAG.findall(main)}
    declared = {name: flag.kind for name, flag in BUNDLED_FLAGS[kind].items()}
    assert declared == {name: k for name, k in in_go.items() if name not in SUITE_FLAGS}
    internal = "\n".join(p.read_text(encoding="utf-8") for p in (go_targets_dir() / "internal" / kind).glob("*.go"))
    for name, flag in BUNDLED_FLAGS[kind].items():
        for choice in flag.choices:  # every enum value is a Go constant of the target's package
            assert re.search(rf'=\s*"{re.escape(choice)}"', internal), f"{kind} --{name}: {choice} not in Go code"


@pytest.mark.parametrize(
    ("kind", "flags", "message"),
    [
        ("configd", {"reload_stratgy": "atomic"},
         "configd has no flag 'reload_stratgy'; did you mean 'reload_strategy'?"),
        ("configd", {"cache_lock": "mutex"}, "configd --cache-lock: 'mutex' is not a value it takes; did you mean "
                                             "'rwmutex'? (valid: none, rwmutex, sharded)"),
        ("kvd", {"retries": 1.5}, "kvd --retries: 1.5 is not a whole number"),
        ("kvd", {"request_timeout": "5"}, "kvd --request-timeout: '5' is not a Go duration"),
        ("allocd", {"listen": "127.0.0.1:1"}, "--listen is set by the suite; remove it"),
    ],
)
def test_bad_flags_are_named_with_the_fix(kind: str, flags: dict[str, object], message: str) -> None:
    (problem,) = flag_problems(kind, flags)
    assert problem[0] == next(iter(flags)) and message in problem[1]


def test_good_flags_pass_and_reach_the_command_line() -> None:
    flags = {"ctx_mode": "leaky", "retries": 0, "request_timeout": "1m30s", "cache-prefix": "c/"}
    assert flag_problems("kvd", flags) == []
    spec = bundled("kvd", ctx_mode="leaky", retries=0, request_timeout="1m30s", **{"cache-prefix": "c/"})
    assert spec.command[-4:] == ("--ctx-mode=leaky", "--retries=0", "--request-timeout=1m30s",
                                                    "--cache-prefix=c/")
    with pytest.raises(TargetError, match=r"flags\.ctx_mode: kvd --ctx-mode: 'lekay' is not a value it takes"):
        bundled("kvd", ctx_mode="lekay")


SCENARIO = """\
name: s
targets:
  - bundled: configd
    flags: {reload_strategy: atomic}
    buggy_flags: {reload_strategy: unsafe}
load:
  users: 2
  options:
    configd: {route_weight: 2}
"""


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("{reload_strategy: atomic}", "{reload_stratgy: atomic}",
         "s.yaml:4: targets.0.flags.reload_stratgy: configd has no flag 'reload_stratgy'; "
         "did you mean 'reload_strategy'?"),
        ("{reload_strategy: unsafe}", "{reload_strategy: unsfe}",
         "s.yaml:5: targets.0.buggy_flags.reload_strategy: configd --reload-strategy: 'unsfe' is not a value"),
        ("{route_weight: 2}", "{route_wieght: 2}",
         "s.yaml:9: load.options.configd.route_wieght: unknown option 'route_wieght'; did you mean 'route_weight'?"),
        ("configd: {route_weight: 2}", "request_timeout_s: -1",
         "s.yaml:9: load.options.request_timeout_s: Input should be greater than 0"),
        ("configd: {route_weight: 2}", "rps_per_usr: 3",
         "s.yaml:9: load.options.rps_per_usr: unknown option 'rps_per_usr'; did you mean 'rps_per_user'?"),
        ("configd: {route_weight: 2}", "users: 3", "s.yaml:9: load.options.users: not an option: set `load.users`"),
        ("  users: 2\n", "  user: dns\n", None),
        ("configd: {route_weight: 2}", "dns: {queries: [{name: 'a b'}]}",
         "s.yaml:9: load.options.dns.queries.0.name: query name must be a non-empty DNS name without spaces"),
        ("configd: {route_weight: 2}", "grpc: {calls: []}", "s.yaml:9: load.options.grpc.calls"),
    ],
)
def test_the_scenario_refuses_them_at_load_time(old: str, new: str, message: str | None) -> None:
    text = SCENARIO.replace(old, new)
    if message is None:  # a dns user takes the same options shape: valid
        parse_scenario(text, "s.yaml")
        return
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "s.yaml")
    assert message in str(caught.value), str(caught.value)


def test_a_load_spec_the_plan_cannot_build_is_a_scenario_error_naming_the_field(tmp_path: Path) -> None:
    plan = build_plan(parse_scenario(SCENARIO, "s.yaml"), tmp_path, platform="local")
    (load,) = plan.loads
    assert load.spec("http://127.0.0.1:8080").configd.route_weight == 2
    with pytest.raises(ScenarioError, match=r"^load on configd: host: host must be an http\(s\) or dns URL"):
        load.spec("ftp://127.0.0.1:21")


def test_a_scenario_file_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.chaos.yaml"
    path.write_bytes(b"name: s\ndescription: caf\xe9\n")
    with pytest.raises(ScenarioError, match=r"latin1\.chaos\.yaml:2: not UTF-8 text \(byte 0xe9\)"):
        load_plan(path)
