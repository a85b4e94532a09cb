"""Oracles read the Timeline and the platform's observations and return Findings.

Each oracle module defines `ORACLE = Oracle(name, Params, check)`; `ORACLES` lists them by name.
Oracles never import injectors: both sides meet only in the Timeline and the Platform.
"""

from collections.abc import Callable, Mapping
from typing import Any

from chaos.errors import ScenarioError
from chaos.oracles import consistency, leaks, panics, recovery, rollback
from chaos.oracles.base import Oracle
from chaos.oracles.context import OracleContext
from chaos.suggest import did_you_mean
from chaos.verdict import Finding

ORACLES: Mapping[str, Oracle[Any]] = {
    o.name: o for o in (panics.ORACLE, recovery.ORACLE, rollback.ORACLE, leaks.ORACLE, consistency.ORACLE)
}


def bind(name: str, params: Mapping[str, Any]) -> Callable[[OracleContext], Finding]:
    """The named oracle with validated params, ready to run; ScenarioError when it can't be."""
    if name not in ORACLES:
        raise ScenarioError(f"unknown oracle {name!r}{did_you_mean(name, ORACLES)}")
    return ORACLES[name].bind(params)
