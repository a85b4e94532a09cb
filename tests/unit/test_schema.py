"""The published JSON Schema of scenario files: equal to what `gochaos schema` prints, accepting every
scenario the project ships and refusing what the loader refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from chaos.cli import main
from chaos.errors import ExitCode, ScenarioError
from chaos.scenario import parse_scenario

REPO = Path(__file__).resolve().parents[2]
PUBLISHED = REPO / "schema" / "gochaos-scenario.schema.json"
SHIPPED = sorted({*REPO.glob("chaos/scenarios/*.yaml"), *REPO.glob("examples/**/*.chaos.yaml"),
                  *REPO.glob("tests/**/*.chaos.yaml")})


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator: jsonschema.Draft202012Validator, document: Any) -> list[str]:
    """Every error, with the innermost reasons of `anyOf`/`if` branches (what an editor shows)."""
    found = []
    for error in validator.iter_errors(document):
        found.append(f"{'.'.join(map(str, error.absolute_path))}: {error.message}")
        found += [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in error.context or ()]
    return found


def test_the_published_file_is_what_gochaos_schema_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == ExitCode.PASS
    printed = capsys.readouterr().out
    assert printed == PUBLISHED.read_text(encoding="utf-8"), (
        "schema/gochaos-scenario.schema.json is stale: regenerate it with "
        "`gochaos schema > schema/gochaos-scenario.schema.json`")


def test_every_shipped_scenario_validates(validator: jsonschema.Draft202012Validator) -> None:
    assert len(SHIPPED) >= 10, SHIPPED  # bundled, examples, tests: a glob that finds nothing proves nothing
    for path in SHIPPED:
        assert errors(validator, yaml.safe_load(path.read_text(encoding="utf-8"))) == [], path


GOOD = {
    "flags spelt with dashes or underscores": "name: a\ntargets: [{bundled: configd, flags: "
                                             "{reload-strategy: unsafe, watch_debounce: 5ms}}]\n",
    "a gc_pressure method's own field": "name: a\ntargets: [{bundled: allocd}]\nfaults: [{injector: gc_pressure, "
                                        "target: allocd, params: {method: hog, hog_mb: 64}}]\n",
    "oracles by name and with params": "name: a\ntargets: [{bundled: kvd}]\n"
                                       "oracles: [panics, {consistency: {max_lag_ms: 300}}]\n",
    "load options": "name: a\ntargets: [{bundled: configd}]\nload: {options: {rps_per_user: 5, "
                    "configd: {route_weight: 2}}}\n",
}


@pytest.mark.parametrize("case", list(GOOD))
def test_schema_and_loader_accept(case: str, validator: jsonschema.Draft202012Validator) -> None:
    assert errors(validator, yaml.safe_load(GOOD[case])) == []
    parse_scenario(GOOD[case], "good.chaos.yaml")


#: document -> a fragment of the schema's error; the loader refuses each of them too
BAD = {
    "bundled flag typo": ("name: a\ntargets: [{bundled: configd, flags: {reload_stratgy: unsafe}}]\n",
                          "'reload_stratgy' was unexpected"),
    "bundled flag value": ("name: a\ntargets: [{bundled: kvd, flags: {ctx_mode: leakey}}]\n",
                           "'leakey' is not one of ['isolated', 'leaky']"),
    "a flag the suite sets": ("name: a\ntargets: [{bundled: configd, flags: {listen: ':1'}}]\n",
                              "'listen' was unexpected"),
    "load.options typo": ("name: a\ntargets: [{bundled: configd}]\nload: {options: {configd: {route_wieght: 3}}}\n",
                          "'route_wieght' was unexpected"),
    "load.options a field the plan sets": ("name: a\ntargets: [{bundled: configd}]\nload: {options: {users: 3}}\n",
                                           "'users' was unexpected"),
    "unknown injector": ("name: a\ntargets: [{bundled: configd}]\nfaults: [{injector: reload_strom}]\n",
                         "'reload_strom' is not one of"),
    "injector param typo": ("name: a\ntargets: [{bundled: configd}]\nfaults: [{injector: reload_storm, "
                            "target: configd, params: {patern: value}}]\n", "'patern' was unexpected"),
    "injector param out of bounds": ("name: a\ntargets: [{bundled: configd}]\nfaults: [{injector: reload_storm, "
                                     "target: configd, params: {rounds: 0}}]\n", "0 is less than the minimum of 1"),
    "another gc_pressure method's field": ("name: a\ntargets: [{bundled: allocd}]\nfaults: [{injector: gc_pressure, "
                                           "target: allocd, params: {hog_mb: 64}}]\n", "'hog_mb' was unexpected"),
    "unknown gc_pressure method": ("name: a\ntargets: [{bundled: allocd}]\nfaults: [{injector: gc_pressure, "
                                   "target: allocd, params: {method: hgo}}]\n", "'hgo' is not one of"),
    "unknown oracle": ("name: a\ntargets: [{bundled: configd}]\noracles: [panicz]\n", "'panicz' is not one of"),
    "oracle param typo": ("name: a\ntargets: [{bundled: kvd}]\noracles: [{consistency: {max_lag: 300}}]\n",
                          "'max_lag' was unexpected"),
    "seed not a whole number": ("name: a\ntargets: [{bundled: configd}]\nseed: twelve\n",
                                "'twelve' is not of type 'integer'"),
    "a list, not a mapping": ("- name: a\n", "is not of type 'object'"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_schema_and_loader_refuse(case: str, validator: jsonschema.Draft202012Validator) -> None:
    text, fragment = BAD[case]
    found = errors(validator, yaml.safe_load(text))
    assert any(fragment in error for error in found), found
    with pytest.raises(ScenarioError):
        parse_scenario(text, "bad.chaos.yaml")


def test_a_suite_file_is_checked_as_a_suite(validator: jsonschema.Draft202012Validator) -> None:
    assert errors(validator, {"name": "gate", "scenarios": ["reload-panic"]}) == []
    assert any("'targets' was unexpected" in e
               for e in errors(validator, {"name": "gate", "scenarios": ["x"], "targets": []}))
