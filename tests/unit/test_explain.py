"""`gochaos explain`: every injector's and oracle's parameters, read from the params models themselves."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from chaos.cli import main
from chaos.errors import ExitCode, UsageError
from chaos.explain import explain, sections
from chaos.injectors import INJECTORS
from chaos.injectors.gc_pressure import METHODS
from chaos.oracles import ORACLES
from chaos.schema import params_schemas


def test_every_parameter_of_every_oracle_and_single_model_injector_is_listed() -> None:
    models: dict[tuple[str, str], type[BaseModel]] = {("oracles", n): o.params for n, o in ORACLES.items()}
    models |= {("injectors", n): c.Params for n, c in INJECTORS.items() if isinstance(c.Params, type)}
    assert len(models) >= len(ORACLES) + 3
    for (kind, name), model in models.items():
        schemas, defs = params_schemas(kind)
        (section,) = sections(schemas[name], defs)
        assert [p.name for p in section.parameters] == list(model.model_fields), name
        for parameter in section.parameters:
            field = model.model_fields[parameter.name]
            assert parameter.description == (field.description or ""), (name, parameter.name)


def test_a_parameter_shows_type_default_and_bounds() -> None:
    schemas, defs = params_schemas("injectors")
    (section,) = sections(schemas["reload_storm"], defs)
    rounds = next(p for p in section.parameters if p.name == "rounds")
    assert (rounds.type, rounds.default, rounds.bounds) == ("integer or auto", "5", ">= 1, <= 10000")
    pattern = next(p for p in section.parameters if p.name == "pattern")
    assert pattern.type.startswith("incident|value|structural") and pattern.default == "incident"


def test_params_with_modes_get_one_section_per_mode_with_only_its_fields() -> None:
    schemas, defs = params_schemas("injectors")
    found = sections(schemas["gc_pressure"], defs)
    models: list[type[BaseModel]] = list(METHODS)
    assert [s.title.split(" ")[1] for s in found] == [m.model_fields["method"].default for m in models]
    assert "(the default)" in found[0].title
    for section, model in zip(found, models, strict=True):
        assert {p.name for p in section.parameters} == set(model.model_fields) - {"method"}


def test_explain_one_oracle_names_its_lag_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "oracles", "consistency"]) == ExitCode.PASS
    out = capsys.readouterr().out
    assert out.startswith("consistency: No stale reads")
    assert "max_lag_ms" in out and "eventually consistent" in out
    assert "recovery" not in out


def test_explain_all_lists_every_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "injectors"]) == ExitCode.PASS
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines() if line and not line.startswith(" ")] == list(INJECTORS)


@pytest.mark.parametrize(("kind", "name", "message"), [
    ("injectors", "reload_strom", "unknown injector 'reload_strom'; did you mean 'reload_storm'?"),
    ("oracles", "panicz", "unknown oracle 'panicz'; did you mean 'panics'?"),
    ("injector", None, "cannot explain 'injector'; did you mean 'injectors'?"),
])
def test_unknown_names_are_usage_errors_with_did_you_mean(
    kind: str, name: str | None, message: str, capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(UsageError, match=message.replace("?", r"\?")):
        explain(kind, name)
    assert main(["explain", kind, *([name] if name else [])]) == ExitCode.USAGE
    assert message in capsys.readouterr().err


def test_each_injector_states_what_clients_may_see_while_it_runs() -> None:
    storm = explain("injectors", "reload_storm")[-1]
    assert storm == ("  what clients may see during this fault (a fault's `steady_state:` overrides it): at most 1% "
                     "failed requests (or 1.5x the baseline's rate); p99 <= 10x the baseline's (at least 100 ms)")
    assert explain("injectors", "leader_loss")[-1].endswith(
        "errors not judged (recovery bounds what follows); latency not judged")
