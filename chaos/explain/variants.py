"""`gochaos explain variants [NAME]`: the two kinds of variant a scenario declares. A target's `buggy_*`
fields are the service with its bug, which `gochaos reproduce` runs (`gochaos run` runs the fixed one);
an injector's `variants` parameter (reload_storm's) holds whole configs or patches a storm writes, each
with what the service must do with it.

Both are read from the scenario schema: every `TargetEntry` field named `buggy_<field>`, and every
injector whose params hold a list of variant models.
"""

from __future__ import annotations

from chaos.explain.fields import Parameter, model_tables, nested_models, parameters, scenario_defs, table
from chaos.explain.names import check_name, one_line
from chaos.explain.targets import VARIANT_PREFIX
from chaos.schema import params_schemas

#: The injector parameter holding declared config variants.
PARAM = "variants"


def target_variants() -> list[str]:
    """The `buggy_*` fields of a target, in the model's order."""
    return [field for field in scenario_defs()["TargetEntry"]["properties"] if field.startswith(VARIANT_PREFIX)]


def config_variant_injectors() -> list[str]:
    """The injectors whose params take declared config variants."""
    schemas, defs = params_schemas("injectors")
    return [name for name, schema in schemas.items() if nested_models(schema, defs, only=[PARAM])]


def names() -> list[str]:
    """What `gochaos explain variants NAME` takes: each `buggy_*` field, each injector with `variants`."""
    return [*target_variants(), *config_variant_injectors()]


def explain_variants(name: str | None = None) -> list[str]:
    """The target variants (`gochaos reproduce`) and the config variants storms write."""
    check_name("variants", name, names())
    lines: list[str] = []
    fields = target_variants()
    if name is None or name in fields:
        shown = [name] if name is not None else fields
        rows = tuple(Parameter(p.name, p.type, p.default, p.bounds,
                               f"variant of `{p.name.removeprefix(VARIANT_PREFIX)}`: {p.description}")
                     for p in parameters(scenario_defs()["TargetEntry"], scenario_defs(), only=shown))
        lines += ["target variants: a target's fields for the service with its bug, which `gochaos reproduce` runs "
                  "(`gochaos run` runs the fixed one; `gochaos explain targets` shows the fields they vary)",
                  *table(rows, "  ", header="field")]
    for injector in config_variant_injectors():
        if name not in (None, injector):
            continue
        schemas, defs = params_schemas("injectors")
        ((field, model_name, model),) = nested_models(schemas[injector], defs, only=[PARAM])
        if lines:
            lines.append("")
        (param,) = parameters(schemas[injector], defs, only=[PARAM])
        lines += [f"config variants: {injector}'s `params.{PARAM}` ({param.description}); each one ({model_name}): "
                  f"{one_line(model.get('description'))}",
                  *model_tables(f"params.{field}", model, defs, header="field")]
    return lines
