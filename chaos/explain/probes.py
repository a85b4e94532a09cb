"""`gochaos explain probes [NAME]`: how the suite knows a target is ready (its `ready_*` fields), and each
kind of live-config probe a target's `live:` list takes (header, json, metrics, config, log).

Read from the scenario schema: the `TargetEntry` fields named `ready_*`, the `Readiness` model the
Python API takes, and the live probe models by the `kind` that picks each one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaos.explain.fields import model_tables, resolve, scenario_defs, table
from chaos.explain.fields import parameters as fields_of
from chaos.explain.names import check_name, one_line
from chaos.targets import Readiness

#: The entry for the readiness fields; the TargetEntry fields it shows start with this.
READINESS, READY_PREFIX = "readiness", "ready_"
#: The TargetEntry field holding a target's live probes.
LIVE = "live"


def live_kinds() -> dict[str, Mapping[str, Any]]:
    """Each live probe kind (what its `kind:` says) and its model's schema."""
    defs = scenario_defs()
    items = defs["TargetEntry"]["properties"][LIVE]["items"]
    kind_of = {ref: kind for kind, ref in items["discriminator"]["mapping"].items()}
    return {kind_of[member["$ref"]]: resolve(member, defs) for member in items["oneOf"]}  # in the model's order


def names() -> list[str]:
    """What `gochaos explain probes NAME` takes: `readiness` and each live probe kind."""
    return [READINESS, *live_kinds()]


def explain_probes(name: str | None = None) -> list[str]:
    """The readiness fields, and each live probe kind's fields."""
    check_name("probes", name, names())
    lines: list[str] = []
    if name in (None, READINESS):
        lines += _readiness()
    for kind, model in live_kinds().items():
        if name not in (None, kind):
            continue
        if lines:
            lines.append("")
        lines.append(f"{kind}: {one_line(model.get('description'))} (in a target's `{LIVE}:` list, "
                     f"`{{kind: {kind}, ...}}`)")
        lines += model_tables(f"{LIVE}[]", model, scenario_defs())
    return lines


def _readiness() -> list[str]:
    defs = scenario_defs()
    entry = defs["TargetEntry"]
    ready = [field for field in entry["properties"] if field.startswith(READY_PREFIX)]
    python = Readiness.model_json_schema()
    timeout = Readiness.model_fields["timeout_s"].default
    return [f"{READINESS}: {one_line(python.get('description'))} (a target's " + " or ".join(f"`{f}`" for f in ready)
            + f"; the suite waits up to {timeout:g} s for it, less when the process exits first)",
            *table(fields_of(entry, defs, only=ready), "  ", header="field"),
            "  in Python, TargetSpec(readiness=Readiness(...)):",
            *table(fields_of(python, python.get("$defs", {})), "    ", header="field")]
