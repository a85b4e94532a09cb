"""`gochaos explain targets [NAME]`: each kind of target a scenario can give (bundled, command, go_install,
build, deployed) with its own fields, each bundled target's flags, and the fields any target takes.

Everything shown is read from the scenario schema's `TargetEntry` (and the models it refers to) and from
`chaos.targets.BUNDLED_FLAGS`; which fields belong to a kind is read from the schema too (the field itself,
its `buggy_` variant, the fields the schema ties to it, e.g. `flags` to `bundled`). Only the names of the
fields that say what a target is are listed here, and a unit test holds each to be a field of the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaos.explain.fields import model_tables, scenario_defs
from chaos.explain.names import check_name, one_line
from chaos.targets import BUNDLED_FLAGS, BundledFlag

#: The TargetEntry fields that say what a target is, in the order a new user meets them.
KINDS = ("bundled", "command", "go_install", "build", "deployed")
#: The entry for the fields every kind may give.
COMMON = "common"
#: The variant of a field that `gochaos reproduce` runs instead (`buggy_command` of `command`).
VARIANT_PREFIX = "buggy_"


def names() -> list[str]:
    """What `gochaos explain targets NAME` takes: the kinds, each bundled target (its flags), `common`."""
    return [*KINDS, *BUNDLED_FLAGS, COMMON]


def explain_targets(name: str | None = None) -> list[str]:
    """The kinds of target with their own fields, the bundled targets' flags, and the common fields."""
    check_name("targets", name, names())
    entry = scenario_defs()["TargetEntry"]
    if name is not None and name in BUNDLED_FLAGS:
        return [f"{name}: {one_line(_flags_description(name))}", *bundled_flags(name, indent="  ")]
    lines: list[str] = []
    if name is None:
        lines += [f"targets: {one_line(entry.get('description'))}",
                  "  a target is one of: " + ", ".join(KINDS) + " (each below, or `gochaos explain targets KIND`)",
                  ""]
    for kind in KINDS if name is None else [name] if name in KINDS else []:
        lines += _kind(kind, entry)
        lines.append("")
    if name in (None, COMMON):
        taken = {field for kind in KINDS for field in own_fields(kind, entry)}
        rest = [field for field in entry["properties"] if field not in taken]
        lines.append(f"{COMMON}: the fields any kind of target may give (each says where it applies; `live` "
                     "probes: `gochaos explain probes`)")
        lines += model_tables("", entry, scenario_defs(), only=rest)
    return lines[:-1] if lines and not lines[-1] else lines


def own_fields(kind: str, entry: Mapping[str, Any]) -> list[str]:
    """The fields of `kind`, in the model's order: the field itself, its `buggy_` variant, and the fields the
    schema ties to it (`if: {bundled: ...} then: {flags, buggy_flags}`)."""
    properties = entry["properties"]
    own = {kind, VARIANT_PREFIX + kind}
    for pick in entry.get("allOf", []):
        if kind in pick.get("if", {}).get("properties", {}):
            own.update(pick.get("then", {}).get("properties", {}))
    return [field for field in properties if field in own]


def bundled_flags(target: str, indent: str) -> list[str]:
    """The flags a scenario may set on bundled target `target` (`flags:` and `buggy_flags:`), as
    `BUNDLED_FLAGS` declares them: name, Go flag type, the values it takes."""
    flags: Mapping[str, BundledFlag] = BUNDLED_FLAGS[target]
    rows = [("flag", "type", "values")]
    rows += [(name, flag.kind.value, "|".join(flag.choices) or "any") for name, flag in flags.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return [(indent + "  ".join(cell.ljust(width) for cell, width in zip(row[:2], widths, strict=True))
             + "  " + row[2]).rstrip() for row in rows]


def _kind(kind: str, entry: Mapping[str, Any]) -> list[str]:
    own = own_fields(kind, entry)
    lines = [f"{kind}: " + ", ".join(f"`{field}`" for field in own)]
    lines += model_tables("", entry, scenario_defs(), only=own)
    if kind == "bundled":
        for target in BUNDLED_FLAGS:
            lines.append(f"  flags of {target} (snake_case or with dashes; unset: the Go program's default, "
                         f"see `{target} -h`):")
            lines += bundled_flags(target, indent="    ")
    return lines


def _flags_description(target: str) -> str:
    return str(scenario_defs()[f"{target}Flags"].get("description", f"Flags of the bundled {target}"))
