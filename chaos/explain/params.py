"""`gochaos explain injectors|oracles [NAME]`: each one's parameters, types, defaults and bounds;
`gochaos explain operators [NAME]`: the mutation operators a `pattern: auto` storm writes.

Parameters are read from the JSON Schema `chaos.schema` generates from the params models (the one the
published scenario schema holds); the operators from the one table `chaos.configs.operators.OPERATORS`.
"""

from __future__ import annotations

import inspect

from chaos.client_budget import ClientBudget
from chaos.configs.operators import OPERATORS, Priority
from chaos.explain.fields import sections, table
from chaos.explain.names import check_name
from chaos.injectors import INJECTORS
from chaos.oracles import ORACLES
from chaos.schema import params_schemas


def names(kind: str) -> list[str]:
    """The injectors or oracles `explain` takes (`kind` is one of chaos.schema.KINDS)."""
    return list(params_schemas(kind)[0])


def explain_params(kind: str, name: str | None = None) -> list[str]:
    """Each injector's or oracle's parameters (or one's): a table per model, one per mode for params with modes."""
    schemas, defs = params_schemas(kind)
    check_name(kind, name, schemas)
    lines: list[str] = []
    for each in [name] if name is not None else list(schemas):
        if lines:
            lines.append("")
        lines.append(f"{each}: {_summary(kind, each)}")
        for section in sections(schemas[each], defs):
            if section.title:
                lines.append(f"  {section.title}")
            lines += table(section.parameters, indent="    " if section.title else "  ")
        if kind == "injectors":
            budget = _budget(INJECTORS[each].client_budget)
            lines.append(f"  what clients may see during this fault (a fault's `steady_state:` overrides it): {budget}")
    return lines


def explain_operators(name: str | None = None) -> list[str]:
    """The operator table (or one operator's row): name, what it applies to, what the service must do with
    its write, its band (the order a storm tries sites in) and what it writes."""
    check_name("operators", name, [op.name for op in OPERATORS])
    lines = [
        "mutation operators: what reload_storm's pattern auto writes at each site (one path, one operator) of the "
        "config's own tree, each site first alone on the original config, band by band (lower first; shuffled "
        "by the seed within a band), then random mutations; `rounds: auto` is one round per site",
        "  expect: what the service must do with the write (accept, reject, or unknown: it may do either, but "
        "must not crash or hang)",
        "  bands: " + ", ".join(f"{p.value} {p.name.lower()}" for p in Priority),
    ]
    rows = [("operator", "applies to", "expect", "band", "description")]
    rows += [(op.name, op.applies, op.expect.value, str(op.priority.value), op.description) for op in OPERATORS
             if name is None or op.name == name]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines += ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4]
              for row in rows]
    return lines


def _budget(budget: ClientBudget) -> str:
    """An injector's default client budget, in words."""
    errors = ("errors not judged (recovery bounds what follows)" if budget.max_error_rate is None
              else f"at most {budget.max_error_rate:.0%} failed requests (or 1.5x the baseline's rate)")
    latency = ("latency not judged" if budget.p99_factor is None
               else f"p99 <= {budget.p99_factor:g}x the baseline's (at least {budget.p99_floor_ms:g} ms)")
    return f"{errors}; {latency}"


def _summary(kind: str, name: str) -> str:
    if kind == "injectors":
        return INJECTORS[name].description
    module = inspect.getmodule(ORACLES[name].check)
    doc = (module.__doc__ if module is not None else None) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ")
