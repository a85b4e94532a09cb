"""Fields as `gochaos explain` shows them, read from JSON Schema (the one `chaos.schema` generates from
the pydantic models the loader validates with): name, type, default, bounds, description; a model's
nested models (a `deployed:` block, a list of DNS queries) each as a table of its own.

Reading the generated schema, never the models by hand, keeps what `explain` prints equal to what the
published schema and the loader accept.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from chaos.schema import scenario_schema

#: JSON Schema bound keywords and how a bound reads.
_BOUNDS = (("minimum", ">= {}"), ("exclusiveMinimum", "> {}"), ("maximum", "<= {}"), ("exclusiveMaximum", "< {}"),
           ("minLength", "length >= {}"), ("maxLength", "length <= {}"), ("minItems", "items >= {}"),
           ("maxItems", "items <= {}"), ("pattern", "matches {}"))
#: A default longer than this is cut (the table's columns stay readable); the model holds the whole value.
_DEFAULT_WIDTH = 48


@dataclass(frozen=True, slots=True)
class Parameter:
    """One field as `explain` shows it."""

    name: str
    type: str
    default: str
    bounds: str
    description: str


@dataclass(frozen=True, slots=True)
class Section:
    """The fields of one model, or of one of its modes (`title` says which)."""

    title: str
    parameters: tuple[Parameter, ...]


def sections(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> list[Section]:
    """The parameters of a params schema: one section, or one per mode for params with modes."""
    schema = resolve(schema, defs)
    picks = [part for part in schema.get("allOf", []) if "const" in str(part.get("if", {}))]
    if not picks:
        return [Section("", parameters(schema, defs))]
    (key, mode_schema), = schema["properties"].items()
    out = []
    for pick in picks:
        mode = pick["if"]["properties"][key]["const"]
        model = resolve(pick["then"], defs)
        default = " (the default)" if mode == mode_schema.get("default") else ""
        title = f"{key}: {mode}{default}" + (f" - {model['description']}" if model.get("description") else "")
        others = tuple(p for p in parameters(model, defs) if p.name != key)
        out.append(Section(title, others))
    return out


def parameters(model: Mapping[str, Any], defs: Mapping[str, Any],
               only: Iterable[str] | None = None) -> tuple[Parameter, ...]:
    """The fields of an object schema (`only`: just these, in the model's order)."""
    model = resolve(model, defs)
    required = set(model.get("required", ()))
    wanted = set(only) if only is not None else None
    out = []
    for name, field in model.get("properties", {}).items():
        if wanted is not None and name not in wanted:
            continue
        out.append(Parameter(name, type_of(field, defs), _default(name, field, required, defs),
                             ", ".join(_bounds(field, defs)), str(field.get("description", ""))))
    return tuple(out)


def table(rows: tuple[Parameter, ...], indent: str, header: str = "parameter") -> list[str]:
    """Aligned columns: name, type, default, bounds, then the description to the end of the line."""
    if not rows:
        return [f"{indent}(no {header}s)"]
    cells = [(header, "type", "default", "bounds", "description")]
    cells += [(p.name, p.type, p.default, p.bounds, p.description) for p in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(4)]
    return [(indent + "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True))
             + "  " + row[4]).rstrip() for row in cells]


def model_tables(path: str, schema: Mapping[str, Any], defs: Mapping[str, Any], indent: str = "  ",
                 only: Iterable[str] | None = None, header: str = "field") -> list[str]:
    """The table of an object schema (at `path` in a scenario file), then one per nested model it refers to,
    titled with its own path (`deployed.config`, `queries[]`) and the model's description."""
    lines = table(parameters(schema, defs, only), indent, header)
    for name, nested_name, nested in nested_models(schema, defs, only):
        where = f"{path}.{name}" if path else name
        description = " ".join(str(nested.get("description", "")).split())
        lines.append(f"{indent}{where} ({nested_name})" + (f": {description}" if description else ""))
        lines += model_tables(where, nested, defs, indent + "  ", header=header)
    return lines


def nested_models(schema: Mapping[str, Any], defs: Mapping[str, Any],
                  only: Iterable[str] | None = None) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(field name, `[]` appended for a list of them; model name; its schema) for each field of `schema`
    holding another model (directly, optionally, or as list items); enums are types, not models."""
    wanted = set(only) if only is not None else None
    found = []
    for name, field in resolve(schema, defs).get("properties", {}).items():
        if wanted is not None and name not in wanted:
            continue
        models = {str(member["$ref"]).rsplit("/", 1)[-1]: (suffix, resolve(member, defs))
                  for suffix, member in _members(field) if "$ref" in member}
        models = {ref: (suffix, target) for ref, (suffix, target) in models.items()
                  if target.get("type") == "object" and "properties" in target}
        if len(models) == 1:  # a union of models (live probes) is explained on its own
            ((ref, (suffix, target)),) = models.items()
            found.append((name + suffix, ref, target))
    return found


def _members(field: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The schemas a field's value may take, each with `[]` when it is a list's items."""
    out: list[tuple[str, Mapping[str, Any]]] = []
    for member in [field, *field.get("anyOf", []), *field.get("oneOf", [])]:
        out.append(("", member))
        if isinstance(member.get("items"), dict):
            out.append(("[]", member["items"]))
    return out


@cache
def scenario_defs() -> dict[str, Any]:
    """The definitions of the published scenario schema (`gochaos schema`): every model a scenario file holds."""
    return dict(scenario_schema()["$defs"])


def resolve(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema a `$ref` points at (followed to the end)."""
    while "$ref" in schema:
        schema = defs[str(schema["$ref"]).rsplit("/", 1)[-1]]
    return schema


def type_of(field: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    """A field's type in a few words: `integer or auto`, `list of Variant`, `watch|sighup|http`."""
    if "$ref" in field:
        target = resolve(field, defs)
        return type_of(target, defs) if "enum" in target else str(target.get("title", "object"))
    if "const" in field:
        return value(field["const"])
    if "enum" in field:
        return "|".join(str(v) for v in field["enum"])
    if "anyOf" in field or "oneOf" in field:
        members = field.get("anyOf", field.get("oneOf", []))
        return " or ".join(dict.fromkeys(type_of(member, defs) for member in members))
    kind = field.get("type", "any")
    if kind == "array":
        if "prefixItems" in field:
            return "[" + ", ".join(type_of(item, defs) for item in field["prefixItems"]) + "]"
        return f"list of {type_of(field.get('items', {}), defs)}"
    if kind == "object" and "additionalProperties" in field and isinstance(field["additionalProperties"], dict):
        return f"map of {type_of(field['additionalProperties'], defs)}"
    return "|".join(kind) if isinstance(kind, list) else str(kind)


def _default(name: str, field: Mapping[str, Any], required: set[str], defs: Mapping[str, Any]) -> str:
    if name in required:
        return "(required)"
    if "default" in field:
        shown = value(field["default"])
        return shown if len(shown) <= _DEFAULT_WIDTH else shown[:_DEFAULT_WIDTH - 3] + "..."
    # a default factory, which pydantic leaves out of the schema: an empty map or list, or a model's defaults
    target = resolve(field, defs)
    if target.get("type") == "array":
        return "[]"
    if "$ref" in field and "properties" in target:
        return "(its defaults)"
    return "{}" if target.get("type") == "object" else "none"


def _bounds(field: Mapping[str, Any], defs: Mapping[str, Any]) -> list[str]:
    found = [text.format(field[key]) for key, text in _BOUNDS if key in field]
    for member in field.get("anyOf", []):
        found += _bounds(member, defs)
    return found


def value(given: Any) -> str:
    """A default or constant as a scenario file would spell it."""
    if given is None:
        return "none"
    if isinstance(given, str):
        return given or '""'
    return json.dumps(given)
