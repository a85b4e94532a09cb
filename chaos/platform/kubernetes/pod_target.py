"""What the Kubernetes platform asks of a target, whichever kind it is: its pods, their watch, its env, its end.

Two kinds of target run on a cluster: the suite's own (`workloads.target.KubeTarget`, a Deployment
the run applies into its namespace) and a team's service already deployed
(`deployed.deployed.DeployedTarget`, found and reached through the API only). Both are a
`PodTarget`: the pods a `Workload` selects, followed by a `PodObserver` (logs, exits, restarts); an
environment changed by a rollout (`roll_env`, which returns the values it replaced, so rolling
those back restores it); a rollout to wait for (`rolled_out`, and `rollout_failure` saying what to
look at when it does not finish); and an end (`close`: stop following it; `remove`: stop it for
good, which for a deployed service is the same). `KubernetesPlatform` talks to this interface and
never asks which kind a target is.
"""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from chaos.platform.base import Endpoint, StartedTarget
from chaos.platform.kubernetes.cluster.podwatch import PodObserver
from chaos.platform.observations import ExitRecord, LogLine
from chaos.targets import TargetSpec


@dataclass(frozen=True, slots=True)
class Workload:
    """Where a target's pods are: their namespace, their label selector and the container to follow."""

    namespace: str
    selector: str
    container: str


class PodTarget(StartedTarget, ABC):
    """A target whose process runs in the pods of `workload`, followed by `observer` (implements `RunningTarget`)."""

    #: Seconds between looks while the platform waits for a rollout to finish and the target to answer.
    rollout_poll_s: ClassVar[float] = 0.2

    def __init__(self, spec: TargetSpec, endpoint: Endpoint, config_path: Path | None,
                 extra_env: Mapping[str, str], *, workload: Workload, observer: PodObserver,
                 placeholders: Mapping[str, str] | None = None) -> None:
        super().__init__(spec, endpoint, config_path, extra_env, placeholders=placeholders)
        self.workload, self.observer = workload, observer

    # -- what its pods say -------------------------------------------------------------------
    @property
    def restarts(self) -> int:
        return self.observer.restarts

    @property
    def pid(self) -> int | None:
        return None  # the process lives in its pod's pid namespace, not visible as a host pid

    def logs(self, since_ns: int | None = None) -> list[LogLine]:
        return self.observer.lines(since_ns)

    def exits(self) -> list[ExitRecord]:
        return self.observer.exits

    @abstractmethod
    def send_signal(self, sig: signal.Signals) -> None:
        """Signal its process (where the kind of target allows it; else PlatformError in one line)."""

    # -- its environment, by a rollout --------------------------------------------------------
    @abstractmethod
    def roll_env(self, env: Mapping[str, str | None]) -> dict[str, str | None]:
        """Patch `env` (None removes a variable) into its workload, which rolls its pods; return the old values."""

    @abstractmethod
    def rolled_out(self) -> bool:
        """Its workload's latest generation is out: every replica updated and ready."""

    @abstractmethod
    def rollout_failure(self, timeout_s: float, env: Mapping[str, str | None]) -> str:
        """One line for a rollout (with `env` changed) not finished within `timeout_s`: what it says, where to look."""

    # -- its end ------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop following it; what runs is left (the run's namespace takes the suite's own with it)."""
        self.observer.stop()

    def remove(self) -> None:
        """Stop it for good (`stop_target`); here: stop following it, and leave it as it is."""
        self.close()


def rolled_out(apps: Any, name: str, namespace: str, kind: str = "deployment") -> bool:
    """Deployment (or StatefulSet, by `kind`) `name` has rolled out: observed, every replica updated and ready."""
    # the objects themselves carry their status: the /status subresources would need rights of their own
    read = apps.read_namespaced_deployment if kind == "deployment" else apps.read_namespaced_stateful_set
    status = read(name, namespace)
    want = status.spec.replicas or 1
    st = status.status
    return bool(st and (st.observed_generation or 0) >= (status.metadata.generation or 0)
                and (st.updated_replicas or 0) == want and (st.ready_replicas or 0) >= want
                and (st.replicas or 0) == want)


def _ready(core: Any, workload: Workload) -> list[Any]:
    """The workload's running, ready pods not being deleted, by name."""
    pods = core.list_namespaced_pod(workload.namespace, label_selector=workload.selector).items
    return sorted((pod for pod in pods
                   if pod.metadata.deletion_timestamp is None and pod.status is not None
                   and pod.status.phase == "Running"
                   and any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])),
                  key=lambda pod: str(pod.metadata.name))


def ready_pods(core: Any, workload: Workload) -> list[str]:
    """The workload's running, ready pods not being deleted, by name."""
    return [str(pod.metadata.name) for pod in _ready(core, workload)]


def ready_pod(core: Any, workload: Workload) -> str | None:
    """A ready pod of the workload (the first by name), or None."""
    return next(iter(ready_pods(core, workload)), None)


def ready_pod_address(core: Any, workload: Workload) -> str | None:
    """The pod IP of a ready pod of the workload (the first by name), or None."""
    return next((str(pod.status.pod_ip) for pod in _ready(core, workload) if pod.status.pod_ip), None)
