"""Oracles read the Timeline and the platform's observations and return Findings.

Each oracle is `check(ctx: OracleContext) -> Finding`, registered by name in `ORACLES`. Oracles
never import injectors: both sides meet only in the Timeline and the Platform.
"""

from collections.abc import Callable, Mapping

from chaos.oracles import panics
from chaos.oracles.context import OracleContext
from chaos.verdict import Finding

ORACLES: Mapping[str, Callable[[OracleContext], Finding]] = {
    panics.NAME: panics.check,
}
