"""JSON Schema of scenario files, generated from the pydantic models the loader validates with.

One generation serves both readers of the contract: `gochaos schema` prints the schema of a whole
scenario (or suite) file, which editors use from the published copy
`schema/gochaos-scenario.schema.json` (a unit test keeps it equal to this output), and
`gochaos explain` reads each injector's and oracle's parameters from the very same definitions.

Beyond what pydantic derives from `Scenario`, the free-form parts get their real shape: a fault's
`params` by its `injector` (params with modes, e.g. gc_pressure's `method`, by that key), an
oracle's params by its name, a bundled target's `flags` by `bundled`, and `load.options` as the
LoadSpec fields a scenario may set. Rules between fields (model validators) stay with the loader,
which remains the authority: the schema catches names, types and bounds while typing.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaValue

from chaos.injectors import INJECTORS
from chaos.injectors.base import default_mode
from chaos.load.options import PLAN_OWNED
from chaos.load.spec import LoadSpec
from chaos.oracles import ORACLES
from chaos.scenario import Scenario, Suite
from chaos.targets import BUNDLED_FLAGS

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_DEFS = "#/$defs/"

#: The two sections whose names `gochaos explain` takes.
KINDS = ("injectors", "oracles")


@cache
def _generated() -> tuple[dict[tuple[str, str], JsonSchemaValue], dict[str, JsonSchemaValue]]:
    """pydantic's schemas of every model involved, sharing one set of definitions."""
    inputs: list[tuple[tuple[str, str], Any, TypeAdapter[Any]]] = [
        (("injectors", name), "validation", TypeAdapter(cls.Params)) for name, cls in INJECTORS.items()]
    inputs += [(("oracles", name), "validation", TypeAdapter(oracle.params)) for name, oracle in ORACLES.items()]
    inputs += [(("file", model.__name__), "validation", TypeAdapter(model)) for model in (Scenario, Suite, LoadSpec)]
    by_key, defs = TypeAdapter.json_schemas(inputs, ref_template=_DEFS + "{model}")
    found = {key: schema for (key, _mode), schema in by_key.items()}
    return found, dict(defs.get("$defs", {}))


@cache
def _parts() -> tuple[dict[str, dict[str, JsonSchemaValue]], dict[str, JsonSchemaValue]]:
    """({"injectors"|"oracles": {name: params schema}}, definitions): the params of every injector and oracle,
    those with modes as one schema per mode picked by the mode key."""
    found, defs = _generated()
    defs = copy.deepcopy(defs)
    params: dict[str, dict[str, JsonSchemaValue]] = {kind: {} for kind in KINDS}
    for name, cls in INJECTORS.items():
        schema = copy.deepcopy(found[("injectors", name)])
        mapping = schema.get("discriminator", {}).get("mapping")
        if mapping:
            def_name = f"{cls.__name__}Params"
            defs[def_name] = _by_mode(schema["discriminator"]["propertyName"], mapping,
                                      default_mode(cls.Params), defs)
            schema = {"$ref": _DEFS + def_name}
        params["injectors"][name] = schema
    for name in ORACLES:
        params["oracles"][name] = copy.deepcopy(found[("oracles", name)])
    return params, defs


def _by_mode(key: str, mapping: Mapping[str, str], default: str | None,
             defs: Mapping[str, JsonSchemaValue]) -> JsonSchemaValue:
    """Params with one model per mode: the mode key's values, then each mode's model by its key (JSON Schema
    keeps no `discriminator`, and a left-out key means the default mode, as the loader takes it)."""
    first = defs[next(iter(mapping.values())).removeprefix(_DEFS)]["properties"][key]
    picks: list[JsonSchemaValue] = [
        {"if": {"properties": {key: {"const": mode}}, "required": [key]}, "then": {"$ref": ref}}
        for mode, ref in mapping.items()]
    if default is not None:
        picks.append({"if": {"not": {"required": [key]}}, "then": {"$ref": mapping[default]}})
    return {"type": "object", "description": f"One set of params per {key}",
            "properties": {key: {"enum": list(mapping), "default": default,
                                 "description": first.get("description", "")}},
            "allOf": picks}


def params_schemas(kind: str) -> tuple[dict[str, JsonSchemaValue], dict[str, JsonSchemaValue]]:
    """({name: params schema} of `kind` ("injectors" or "oracles"), the definitions they refer to)."""
    params, defs = _parts()
    return params[kind], defs


def scenario_schema() -> JsonSchemaValue:
    """The JSON Schema of a scenario file or a suite file, as `gochaos schema` prints it."""
    found, _ = _generated()
    params, defs = _parts()
    defs = copy.deepcopy(defs)
    defs["LoadOptions"] = _load_options(defs.pop("LoadSpec"))
    defs["LoadEntry"]["properties"]["options"] = {"$ref": _DEFS + "LoadOptions"}
    _name_choices(defs["FaultEntry"]["properties"], "injector", INJECTORS)
    defs["FaultEntry"]["allOf"] = [
        {"if": {"properties": {"injector": {"const": name}}, "required": ["injector"]},
         "then": {"properties": {"params": schema}}} for name, schema in params["injectors"].items()]
    _name_choices(defs["TargetEntry"]["properties"], "bundled", BUNDLED_FLAGS)
    defs["TargetEntry"]["allOf"] = [
        {"if": {"properties": {"bundled": {"const": kind}}, "required": ["bundled"]},
         "then": {"properties": {field: {"$ref": _DEFS + f"{kind}Flags"} for field in ("flags", "buggy_flags")}}}
        for kind in BUNDLED_FLAGS]
    for kind, flags in BUNDLED_FLAGS.items():
        properties = {spelt: flag.json_schema() for name, flag in flags.items()
                      for spelt in dict.fromkeys((name, name.replace("_", "-")))}
        defs[f"{kind}Flags"] = {"type": "object", "description": f"Flags of the bundled {kind}",
                                "properties": properties, "additionalProperties": False}
    oracles = defs["Scenario"]["properties"]["oracles"]
    oracles["items"] = {"anyOf": [
        {"enum": list(ORACLES)},
        {"type": "object", "minProperties": 1, "additionalProperties": False,
         "properties": params["oracles"]}]}
    return {
        "$schema": DRAFT,
        "title": "gochaos scenario",
        "description": "A gochaos scenario file (*.chaos.yaml), or a suite of scenarios (`scenarios:`). "
                       "Generated by `gochaos schema` from the models `gochaos run` validates with.",
        "type": "object",
        "if": {"required": ["scenarios"]},
        "then": found[("file", "Suite")],
        "else": found[("file", "Scenario")],
        "$defs": dict(sorted(defs.items())),
    }


def _load_options(load_spec: JsonSchemaValue) -> JsonSchemaValue:
    """LoadSpec as `load.options` may give it: without the fields the scenario's `load` entry and the plan set."""
    options = copy.deepcopy(load_spec)
    for owned in PLAN_OWNED:
        options["properties"].pop(owned, None)
    options["required"] = [r for r in options.get("required", []) if r not in PLAN_OWNED]
    if not options["required"]:
        del options["required"]
    options["title"] = "LoadOptions"
    options["description"] = "More LoadSpec fields for the load (its host, user, users, spawn rate and " \
                             "duration come from the scenario)"
    return options


def _name_choices(properties: dict[str, JsonSchemaValue], field: str, names: Mapping[str, object]) -> None:
    """`field` (a string, maybe optional) limited to the registered `names`, so editors complete them."""
    schema = properties[field]
    choice: JsonSchemaValue = {"enum": list(names)}
    if any(member.get("type") == "null" for member in schema.get("anyOf", [])):
        choice = {"anyOf": [choice, {"type": "null"}]}
    kept = {key: value for key, value in schema.items() if key in ("default", "description")}
    properties[field] = {**choice, **kept}


def render(schema: JsonSchemaValue) -> str:
    """The schema as published: indented JSON, non-ASCII kept (µs in a Go duration), one final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
