"""`gochaos explain injectors|oracles [NAME]`: each one's parameters, types, defaults and bounds;
`gochaos explain operators [NAME]`: the mutation operators a `pattern: auto` storm writes.

Parameters are read from the JSON Schema `chaos.schema` generates from the params models (the one the
published scenario schema holds), so what this prints is what the loader accepts; the operators from
the one table `chaos.configs.operators.OPERATORS`. Nothing is listed by hand.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chaos.client_budget import ClientBudget
from chaos.configs.operators import OPERATORS, Priority
from chaos.errors import UsageError
from chaos.injectors import INJECTORS
from chaos.oracles import ORACLES
from chaos.schema import KINDS, params_schemas
from chaos.suggest import did_you_mean

#: JSON Schema bound keywords and how a bound reads.
_BOUNDS = (("minimum", ">= {}"), ("exclusiveMinimum", "> {}"), ("maximum", "<= {}"), ("exclusiveMaximum", "< {}"),
           ("minLength", "length >= {}"), ("maxLength", "length <= {}"), ("minItems", "items >= {}"),
           ("maxItems", "items <= {}"), ("pattern", "matches {}"))
#: What `gochaos explain` takes: the params sections, and the mutation operators (`mutations` is an alias).
OPERATORS_KIND = "operators"
EXPLAINED = (*KINDS, OPERATORS_KIND)


@dataclass(frozen=True, slots=True)
class Parameter:
    """One parameter as `explain` shows it."""

    name: str
    type: str
    default: str
    bounds: str
    description: str


@dataclass(frozen=True, slots=True)
class Section:
    """The parameters of one injector or oracle, or of one of its modes (`title` says which)."""

    title: str
    parameters: tuple[Parameter, ...]


def explain(kind: str, name: str | None = None) -> list[str]:
    """The lines `gochaos explain KIND [NAME]` prints; UsageError (did you mean) for an unknown KIND or NAME."""
    if kind in (OPERATORS_KIND, "mutations"):
        return explain_operators(name)
    if kind not in KINDS:
        raise UsageError(f"cannot explain {kind!r}{did_you_mean(kind, EXPLAINED)}")
    schemas, defs = params_schemas(kind)
    if name is not None and name not in schemas:
        singular = kind.removesuffix("s")
        raise UsageError(f"unknown {singular} {name!r}{did_you_mean(name, schemas)}; "
                         f"`gochaos explain {kind}` lists them all")
    lines: list[str] = []
    for each in [name] if name is not None else list(schemas):
        if lines:
            lines.append("")
        lines.append(f"{each}: {_summary(kind, each)}")
        for section in sections(schemas[each], defs):
            if section.title:
                lines.append(f"  {section.title}")
            lines += _table(section.parameters, indent="    " if section.title else "  ")
        if kind == "injectors":
            budget = _budget(INJECTORS[each].client_budget)
            lines.append(f"  what clients may see during this fault (a fault's `steady_state:` overrides it): {budget}")
    return lines


def explain_operators(name: str | None = None) -> list[str]:
    """The operator table (or one operator's row): name, what it applies to, what the service must do with
    its write, its band (the order a storm tries sites in) and what it writes."""
    names = [op.name for op in OPERATORS]
    if name is not None and name not in names:
        raise UsageError(f"unknown operator {name!r}{did_you_mean(name, names)}; `gochaos explain operators` lists "
                         "them all")
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


def sections(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> list[Section]:
    """The parameters of a params schema: one section, or one per mode for params with modes."""
    schema = _resolve(schema, defs)
    picks = [part for part in schema.get("allOf", []) if "const" in str(part.get("if", {}))]
    if not picks:
        return [Section("", _parameters(schema, defs))]
    (key, mode_schema), = schema["properties"].items()
    out = []
    for pick in picks:
        mode = pick["if"]["properties"][key]["const"]
        model = _resolve(pick["then"], defs)
        default = " (the default)" if mode == mode_schema.get("default") else ""
        title = f"{key}: {mode}{default}" + (f" - {model['description']}" if model.get("description") else "")
        others = tuple(p for p in _parameters(model, defs) if p.name != key)
        out.append(Section(title, others))
    return out


def _summary(kind: str, name: str) -> str:
    if kind == "injectors":
        return INJECTORS[name].description
    module = inspect.getmodule(ORACLES[name].check)
    doc = (module.__doc__ if module is not None else None) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ")


def _parameters(model: Mapping[str, Any], defs: Mapping[str, Any]) -> tuple[Parameter, ...]:
    required = set(model.get("required", ()))
    out = []
    for name, field in model.get("properties", {}).items():
        default = "(required)" if name in required else _value(field.get("default"))
        out.append(Parameter(name, _type(field, defs), default, ", ".join(_bounds(field, defs)),
                             str(field.get("description", ""))))
    return tuple(out)


def _table(parameters: tuple[Parameter, ...], indent: str) -> list[str]:
    if not parameters:
        return [f"{indent}(no parameters)"]
    rows = [("parameter", "type", "default", "bounds", "description")]
    rows += [(p.name, p.type, p.default, p.bounds, p.description) for p in parameters]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return [indent + "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True))
            + "  " + row[4] for row in rows]


def _resolve(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = defs[str(schema["$ref"]).rsplit("/", 1)[-1]]
    return schema


def _type(field: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    if "$ref" in field:
        target = _resolve(field, defs)
        return _type(target, defs) if "enum" in target else str(target.get("title", "object"))
    if "const" in field:
        return _value(field["const"])
    if "enum" in field:
        return "|".join(str(v) for v in field["enum"])
    if "anyOf" in field or "oneOf" in field:
        members = field.get("anyOf", field.get("oneOf", []))
        return " or ".join(dict.fromkeys(_type(member, defs) for member in members))
    kind = field.get("type", "any")
    if kind == "array":
        if "prefixItems" in field:
            return "[" + ", ".join(_type(item, defs) for item in field["prefixItems"]) + "]"
        return f"list of {_type(field.get('items', {}), defs)}"
    if kind == "object" and "additionalProperties" in field and isinstance(field["additionalProperties"], dict):
        return f"map of {_type(field['additionalProperties'], defs)}"
    return "|".join(kind) if isinstance(kind, list) else str(kind)


def _bounds(field: Mapping[str, Any], defs: Mapping[str, Any]) -> list[str]:
    found = [text.format(field[key]) for key, text in _BOUNDS if key in field]
    for member in field.get("anyOf", []):
        found += _bounds(member, defs)
    return found


def _value(value: Any) -> str:
    if value is None:
        return "none"
    return value if isinstance(value, str) else json.dumps(value)
