"""`gochaos explain load [NAME]`: a scenario's `load:` entry and its `options`, and each built-in Locust
user with the options it reads (`load.options.<user>`).

Read from the scenario schema (`LoadEntry`, `LoadOptions`: the LoadSpec fields a scenario may set, and
each user's options model) and from `chaos.load.spec.BUILTIN`, the one table of built-in users.
"""

from __future__ import annotations

from chaos.explain.fields import model_tables, nested_models, parameters, scenario_defs, table
from chaos.explain.names import check_name, one_line
from chaos.load.spec import BUILTIN

#: The entry for the scenario's `load:` block itself.
ENTRY = "entry"


def names() -> list[str]:
    """What `gochaos explain load NAME` takes: `entry`, and each built-in user."""
    return [ENTRY, *(user.name for user in BUILTIN)]


def explain_load(name: str | None = None) -> list[str]:
    """The `load:` entry with its options, then each built-in user's options."""
    check_name("load", name, names(), noun="load entry or built-in user")
    defs = scenario_defs()
    options = defs["LoadOptions"]
    users = {user.name: user for user in BUILTIN}
    lines: list[str] = []
    if name in (None, ENTRY):
        scenario_load = defs["Scenario"]["properties"]["load"]
        lines += [f"{ENTRY}: a scenario's `load:` ({one_line(scenario_load.get('description'))})",
                  *table(parameters(defs["LoadEntry"], defs), "  ", header="field"),
                  f"  load.options (LoadOptions): {one_line(options.get('description'))}",
                  *table(parameters(options, defs, only=[f for f in options["properties"] if f not in users]),
                         "    ", header="field"),
                  "  built-in users (`load.user`; a bundled target's is its own): "
                  + ", ".join(f"{user.name} ({user.speaks})" for user in BUILTIN)
                  + "; each reads its options from `load.options.<user>`"]
    for found, model_name, model in nested_models(options, defs, only=list(users)):
        if name not in (None, found):
            continue
        if lines:
            lines.append("")
        lines.append(f"{found}: {one_line(model.get('description'))} (speaks {users[found].speaks}; "
                     f"`load.options.{found}`: {model_name})")
        lines += model_tables(f"load.options.{found}", model, defs)
    return lines
