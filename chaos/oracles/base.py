"""The oracle contract: a name, typed params with defaults, and `check(ctx, params) -> Finding`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from chaos.errors import ScenarioError
from chaos.oracles.context import OracleContext
from chaos.suggest import did_you_mean, fields_at
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
            problems = "; ".join(_problem(self.params, err) for err in e.errors())
            raise ScenarioError(f"oracle {self.name} params: {problems}") from e
        return lambda ctx: self.check(ctx, params)


def _problem(params: type[OracleParams], err: ErrorDetails) -> str:
    """One validation error as `field: what is wrong`; an unknown field gets a 'did you mean'."""
    loc = [str(part) for part in err["loc"]]
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden" and loc:
        message = f"unknown parameter {loc[-1]!r}{did_you_mean(loc[-1], fields_at(params, loc[:-1]))}"
    return f"{'.'.join(loc)}: {message}" if loc else message
