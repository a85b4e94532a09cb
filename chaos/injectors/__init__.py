"""Fault injectors, one module per fault family, all listed in `INJECTORS` by name.

A new fault is one module here with an `Injector` subclass, added to the tuple below.
"""

from collections.abc import Mapping
from typing import Any

from chaos.client_budget import ClientBudget
from chaos.injectors.base import Injector, create_from
from chaos.injectors.etcd_leader import LeaderLoss
from chaos.injectors.gc_pressure import GCPressure
from chaos.injectors.network import NetworkFault
from chaos.injectors.pod_delete import PodDelete
from chaos.injectors.reload import ReloadStorm

INJECTORS: Mapping[str, type[Injector[Any]]] = {
    cls.name: cls for cls in (ReloadStorm, LeaderLoss, GCPressure, PodDelete, NetworkFault)
}


def create(name: str, params: Mapping[str, Any], target: str | None,
           steady_state: ClientBudget | None = None) -> Injector[Any]:
    """The named injector with validated params; ScenarioError (did you mean) when it can't be."""
    return create_from(INJECTORS, name, params, target, steady_state)
