"""`gochaos explain targets|probes|load|variants [NAME]`: every field a scenario's targets, probes, load and
variants take, read from the very models the loader validates with (what is asserted here is read from
those models too, so a field added to one shows up without a table to update)."""

from __future__ import annotations

import re
import typing

import pytest
from pydantic import BaseModel

from chaos.cli import main
from chaos.errors import ExitCode, UsageError
from chaos.explain import explain
from chaos.explain.targets import KINDS, own_fields
from chaos.explain.variants import target_variants
from chaos.injectors.reload_sources import Variant
from chaos.load.options import PLAN_OWNED
from chaos.load.spec import BUILTIN, LoadSpec
from chaos.observe.live_probes import LiveProbe
from chaos.scenario import LoadEntry, TargetEntry
from chaos.schema import scenario_schema
from chaos.targets import BUNDLED_FLAGS, Deployed, DeployedConfig, Readiness


def row(lines: list[str], name: str, after: str | None = None) -> dict[str, str]:
    """The table row of field `name` (the first after the line starting with `after`, if given), cut into
    its columns by the positions of its table's header."""
    start = next(i for i, line in enumerate(lines) if line.startswith(after)) if after else 0
    at = next(i for i in range(start, len(lines)) if lines[i].split()[:1] == [name])
    header = next(lines[i] for i in range(at, -1, -1) if lines[i].split()[:2] in (["field", "type"],
                                                                                     ["flag", "type"]))
    titles = header.split()
    starts = [header.index(f" {title}" if i else title) + (1 if i else 0) for i, title in enumerate(titles)]
    cells = [lines[at][begin:end].strip() for begin, end in zip(starts, [*starts[1:], None], strict=True)]
    return dict(zip(titles, cells, strict=True))


def options_model(user: str) -> type[BaseModel]:
    """The options model of built-in user `user` (LoadSpec's field of its name, maybe optional)."""
    annotation = LoadSpec.model_fields[user].annotation
    return next(arg for arg in (typing.get_args(annotation) or (annotation,))
                if isinstance(arg, type) and issubclass(arg, BaseModel))


def test_every_target_field_is_shown_once_under_its_kind_or_as_common() -> None:
    assert set(KINDS) <= set(TargetEntry.model_fields), "each kind is a field of the target model"
    lines = explain("targets")
    rows = [re.match(r"  ([a-z_]+)  ", line) for line in lines]  # the top tables' rows (a title has one space)
    shown = [found[1] for found in rows if found is not None and found[1] != "field"]
    assert sorted(shown) == sorted(TargetEntry.model_fields)
    assert own_fields("bundled", scenario_schema()["$defs"]["TargetEntry"]) == ["bundled", "flags", "buggy_flags"]
    assert own_fields("go_install", scenario_schema()["$defs"]["TargetEntry"]) == ["go_install", "buggy_go_install"]


def test_a_kind_shows_its_fields_with_type_default_and_description() -> None:
    lines = explain("targets", "go_install")
    assert lines[0] == "go_install: `go_install`, `buggy_go_install`"
    cells = row(lines, "go_install")
    assert cells["type"] == "string or null" and cells["default"] == "none"
    assert cells["description"] == TargetEntry.model_fields["go_install"].description
    common = explain("targets", "common")
    assert row(common, "ready_path")["default"] == TargetEntry.model_fields["ready_path"].default == "/-/readyz"
    assert row(common, "reload")["type"] == "watch|sighup|http"
    assert row(common, "restart")["default"] == TargetEntry.model_fields["restart"].default.value


def test_deployed_shows_its_nested_models_with_their_own_paths() -> None:
    lines = explain("targets", "deployed")
    assert "  deployed (Deployed): " + (Deployed.__doc__ or "").strip() in lines
    for field, info in Deployed.model_fields.items():
        assert row(lines, field, after="  deployed (Deployed)")["description"] == info.description
    assert row(lines, "namespace")["default"] == "(required)"
    assert any(line.startswith("    deployed.config (DeployedConfig): ") for line in lines)
    assert row(lines, "key", after="    deployed.config")["default"] == "(required)"
    assert set(DeployedConfig.model_fields) <= {line.split()[0] for line in lines if line.startswith("      ")}


def test_each_bundled_target_lists_the_flags_a_scenario_may_set() -> None:
    for target, flags in BUNDLED_FLAGS.items():
        lines = explain("targets", target)
        for name, flag in flags.items():
            cells = row(lines, name)
            assert cells["type"] == flag.kind.value
            assert cells["values"] == ("|".join(flag.choices) or "any")
    assert row(explain("targets", "configd"), "reload_strategy")["values"] == "atomic|unsafe"


def test_probes_show_readiness_and_every_live_probe_kind_in_the_models_order() -> None:
    lines = explain("probes")
    models = typing.get_args(typing.get_args(LiveProbe)[0])
    kinds = [model.model_fields["kind"].default for model in models]
    titles = [line.split(":")[0] for line in lines if line and not line.startswith(" ")]
    assert titles == ["readiness", *kinds]
    timeout = Readiness.model_fields["timeout_s"].default
    assert f"waits up to {timeout:g} s" in lines[0]
    assert row(lines, "timeout_s")["default"] == str(timeout)
    assert row(lines, "ready_grpc")["default"] == "false"
    header = explain("probes", "header")
    assert row(header, "header")["default"] == models[0].model_fields["header"].default == "X-Config-Version"
    metrics = explain("probes", "metrics")
    assert row(metrics, "metric")["default"] == "(required)"


def test_load_shows_its_entry_options_and_each_built_in_users_options() -> None:
    lines = explain("load", "entry")
    for field in LoadEntry.model_fields:
        assert row(lines, field)["type"], field
    options = [line.split()[0] for line in lines[lines.index(next(line for line in lines
                                                                  if line.startswith("  load.options"))) + 2:]
               if line.startswith("    ")]
    users = {user.name for user in BUILTIN}
    assert set(options) == set(LoadSpec.model_fields) - set(PLAN_OWNED) - users
    assert row(lines, "request_timeout_s")["default"] == str(LoadSpec.model_fields["request_timeout_s"].default)
    for user in BUILTIN:
        shown = explain("load", user.name)
        assert shown[0].startswith(f"{user.name}: ") and f"speaks {user.speaks}" in shown[0]
        model = options_model(user.name)
        for field, info in model.model_fields.items():
            assert row(shown, field)["description"] == (info.description or ""), (user.name, field)
    assert row(explain("load", "configd"), "route_weight")["default"] == "6"
    assert row(explain("load", "dns"), "expect_rcode", after="  load.options.dns.queries[]")["default"] == "NOERROR"


def test_variants_show_each_buggy_field_and_the_storms_config_variants() -> None:
    assert target_variants() == [field for field in TargetEntry.model_fields if field.startswith("buggy_")]
    assert {"buggy_flags", "buggy_command", "buggy_go_install", "buggy_build"} <= set(target_variants())
    lines = explain("variants")
    for field in target_variants():
        cells = row(lines, field)
        assert cells["description"] == (f"variant of `{field.removeprefix('buggy_')}`: "
                                        f"{TargetEntry.model_fields[field].description}")
    storm = explain("variants", "reload_storm")
    assert storm[0].startswith("config variants: reload_storm's `params.variants`")
    assert row(storm, "expect")["default"] == Variant.model_fields["expect"].default == "accept"
    assert row(storm, "name")["default"] == "(required)"
    one = explain("variants", "buggy_build")
    assert [line.split()[0] for line in one[2:]] == ["buggy_build"] and not any("config variants" in x for x in one)


@pytest.mark.parametrize(("kind", "name", "message"), [
    ("targets", "bundeld", "unknown target 'bundeld'; did you mean 'bundled'? (valid: allocd, build, bundled, "),
    ("probes", "heder", "unknown probe 'heder'; did you mean 'header'? (valid: "),
    ("load", "confgd", "unknown load entry or built-in user 'confgd'; did you mean 'configd'? (valid: "),
    ("variants", "buggy_cmd", "unknown variant 'buggy_cmd'; did you mean 'buggy_command'? (valid: "),
])
def test_an_unknown_name_says_which_names_exist(
    kind: str, name: str, message: str, capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(UsageError) as raised:
        explain(kind, name)
    assert str(raised.value).startswith(message)
    assert main(["explain", kind, name]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert message in err and f"`gochaos explain {kind}` lists them all" in err


def test_the_cli_prints_one_probe_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "probes", "log"]) == ExitCode.PASS
    out = capsys.readouterr().out
    assert out.startswith("log: Reload outcomes in the service's log lines.")
    assert "accepted" in out and "readiness" not in out
