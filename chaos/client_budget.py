"""What clients may see while a fault runs: the steady state judged during each fault window.

A fault's window is measured against the baseline: its error rate and p99 may not exceed the
budget. Each injector states its default (`Injector.client_budget`): a reload the service accepts
must be invisible to clients, while a leader loss or a pod delete may cost errors for a while (the
`recovery` oracle bounds how long). A scenario overrides it per fault (`steady_state:`). Injectors
record the budget on their `fault.start` event; the `steady_state` oracle reads it from there, so
neither imports the other.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ClientBudget(BaseModel):
    """Error rate and p99 the load may see during one fault window; None: not judged during it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_error_rate: float | None = Field(
        0.01, ge=0, le=1, description="Failed requests allowed during the fault (or 1.5x the baseline's rate, if "
                                      "higher); null: errors are not judged during this fault")
    p99_factor: float | None = Field(
        10.0, ge=1, description="p99 during the fault <= factor x the baseline's p99 (or p99_floor_ms, if higher); "
                               "null: latency is not judged during this fault")
    p99_floor_ms: float = Field(100.0, ge=0, description="The p99 bound is never below this many ms (a shared CI "
                                                       "machine stalls for tens of ms now and then)")

    def merged(self, override: ClientBudget | None) -> ClientBudget:
        """This budget with the fields `override` sets (a scenario's `steady_state:`) replaced."""
        if override is None:
            return self
        return self.model_copy(update={name: getattr(override, name) for name in override.model_fields_set})


#: A reload the service takes (or refuses) must not show to clients.
STRICT = ClientBudget()
#: Errors and latency are the fault's expected cost; recovery after it is judged by `recovery`.
DISRUPTIVE = ClientBudget(max_error_rate=None, p99_factor=None)
