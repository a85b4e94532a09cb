"""`gochaos explain KIND [NAME]`: what a scenario file may say, with each field's type, default, bounds
and description, for a first scenario written without reading the code.

    injectors, oracles   each one's parameters (`chaos.explain.params`)
    operators            the mutations a `pattern: auto` storm writes (alias: mutations)
    targets              each kind of target and its fields, the bundled targets' flags (`targets`)
    probes               readiness, and each kind of live-config probe (`probes`)
    load                 the `load:` entry and each built-in user's options (`load`)
    variants             a target's `buggy_*` fields and a storm's declared config variants (`variants`)

Everything is read from the JSON Schema `chaos.schema` generates from the models the loader validates
with (the published scenario schema), or from the registries the schema is built from; nothing is
listed by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from chaos.errors import UsageError
from chaos.explain import load, params, probes, targets, variants
from chaos.explain.fields import Parameter, Section, sections
from chaos.explain.params import explain_operators
from chaos.schema import KINDS
from chaos.suggest import did_you_mean

__all__ = ["EXPLAINED", "Parameter", "Section", "explain", "explain_operators", "sections"]

#: The `gochaos explain` kinds a NAME may follow, each with what prints it.
_EXPLAINERS: dict[str, Callable[[str | None], list[str]]] = {
    **{kind: partial(params.explain_params, kind) for kind in KINDS},
    "operators": explain_operators,
    "targets": targets.explain_targets,
    "probes": probes.explain_probes,
    "load": load.explain_load,
    "variants": variants.explain_variants,
}
_ALIASES = {"mutations": "operators"}
#: What `gochaos explain` takes.
EXPLAINED = tuple(_EXPLAINERS)


def explain(kind: str, name: str | None = None) -> list[str]:
    """The lines `gochaos explain KIND [NAME]` prints; UsageError (did you mean) for an unknown KIND or NAME."""
    explainer = _EXPLAINERS.get(_ALIASES.get(kind, kind))
    if explainer is None:
        raise UsageError(f"cannot explain {kind!r}{did_you_mean(kind, EXPLAINED)}")
    return explainer(name)
