"""Abilities only some platforms have, each a small Protocol an injector asks for by name.

The core `Platform` contract is what every way of running targets can do. A fault that needs more
(an in-place CPU/memory limit, a hog beside the target) asks with `require`, and a platform without
that ability makes the fault unavailable in one line instead of failing halfway.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar, runtime_checkable

from chaos.errors import Unavailable


class ResourceLimit(Protocol):
    """A CPU/memory squeeze of one target, applied and removed by the fault."""

    @property
    def groups(self) -> Sequence[tuple[object, object]]:
        """What was changed, for the fault's details: (cgroup, origin) pairs, or (pod, limits)."""
        ...

    def apply(self) -> None: ...

    def throttled_periods(self) -> int | None:
        """CFS periods throttled since `apply` (None where unreadable): the proof a CPU limit bit."""
        ...

    def remove(self) -> None: ...


@runtime_checkable
class ResourceLimits(Protocol):
    """Can squeeze a running target's memory and CPU without restarting it."""

    def resource_limit(self, name: str, *, memory_bytes: int | None = None,
                       cpu_millicores: int | None = None) -> ResourceLimit: ...


class Hog(Protocol):
    """A bounded memory/CPU hog running beside a target (gc_pressure's `hog` method)."""

    #: Where it runs, for the fault's details (a pid, or a pod and its node).
    where: str

    def rss_mb(self) -> int:
        """Its resident memory now, in MiB (0 when not running or not readable)."""
        ...

    def stop(self) -> None: ...


@runtime_checkable
class HogPlacement(Protocol):
    """Can start the hog binary beside a target, competing for the same memory and CPU."""

    def start_hog(self, near: str, *, mb: int, cpu: bool, duration_s: float) -> Hog:
        """Start the hog beside target `near`, holding `mb` MiB (and a CPU) for `duration_s`."""
        ...


@runtime_checkable
class PodDeleting(Protocol):
    """Can delete a target's pods through the API; its workload (Deployment, StatefulSet) replaces them."""

    def delete_pods(self, name: str, *, count: int, grace_s: int) -> list[str]:
        """Delete up to `count` of target `name`'s running pods (first by name); return their names."""
        ...

    def ready_pods(self, name: str) -> list[str]:
        """Target `name`'s pods that are running and ready now."""
        ...


class LoadWorkers(Protocol):
    """Load worker processes running elsewhere than this run (pods), stopped by the run."""

    #: Where they run, for the run's events (pod names).
    where: list[str]

    def stop(self) -> None: ...


@runtime_checkable
class LoadWorkerPlacement(Protocol):
    """Can run Locust workers beside the run (pods in the cluster) that reach a target without this run."""

    def load_url(self, name: str) -> str:
        """The URL those workers load target `name` at (its Service)."""
        ...

    def start_load_workers(self, count: int, args: Callable[[str], list[str]]) -> LoadWorkers:
        """Start `count` workers, each `python -m chaos.load.child` with `args(master_host)`."""
        ...


A = TypeVar("A")


def missing(platform: object, ability: type[object]) -> str | None:
    """Why `platform` cannot serve a fault that needs `ability` (None: it can)."""
    if isinstance(platform, ability):
        return None
    name = getattr(platform, "name", type(platform).__name__)
    return f"platform {name} has no {ability.__name__} ability ({(ability.__doc__ or '').strip().rstrip('.')})"


def require(platform: object, ability: type[A]) -> A:
    """`platform` as the `ability` a fault needs; Unavailable (one line) when it has not got it."""
    reason = missing(platform, ability)
    if reason is not None:
        raise Unavailable(reason)
    return platform  # type: ignore[return-value]  # isinstance proved it
