"""The oracle contract: a name, typed params with defaults, and `check(ctx, params) -> Finding`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from chaos.errors import ScenarioError
from chaos.oracles.context import OracleContext
from chaos.verdict import Finding


class OracleParams(BaseModel):
    """Base of every oracle's thresholds: frozen, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


P = TypeVar("P", bound=OracleParams)


@dataclass(frozen=True)
class Oracle(Generic[P]):
    """One registered oracle."""

    name: str
    params: type[P]
    check: Callable[[OracleContext, P], Finding]

    def bind(self, raw: Mapping[str, Any]) -> Callable[[OracleContext], Finding]:
        """Validate `raw` params now (ScenarioError if bad); return the ready-to-run check."""
        try:
            params = self.params(**raw)
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
            raise ScenarioError(f"oracle {self.name} params: {problems}") from e
        return lambda ctx: self.check(ctx, params)
