"""Platforms as a plan sees them, before anything runs: what each can run, how the dry run shows it,
which config writes reach its targets, and what it can do to a team's etcd.

The run's platform is chosen by name on the command line (or the pytest option) and turned into a
`PlatformKind` once, by chaos.platform.factory; from then on the plan, the dry run, the team's etcd
and the injectors ask the kind, and no platform name is compared as a string outside its package.
Each implementation lives in its platform's package (chaos.platform.local.planning,
chaos.platform.kubernetes.planning); adding a platform is one more kind and one more row in the
factory's table.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from chaos.configfiles import WriteMode
from chaos.targets import TargetSpec

if TYPE_CHECKING:
    from chaos.build import Binaries
    from chaos.network.links import LinkRequest
    from chaos.platform.base import Platform
    from chaos.timeline import Timeline


class PlatformKind(ABC):
    """One platform at plan time (no process, cluster or file is touched by any of these)."""

    name: ClassVar[str]
    #: Does a run here work on a Kubernetes cluster (one is opened first), so it can delete a team etcd's
    #: leader pod and read TLS files from a Secret?
    on_cluster: ClassVar[bool]

    @abstractmethod
    def open(self, *, timeline: Timeline, binaries: Binaries, run_dir: Path | None, stack: ExitStack, keep: bool,
             kube: Any = None, cluster: Any | Callable[[], Any] | None = None) -> Platform:
        """A Platform of this kind for one run, closed (with whatever it opened) when `stack` closes."""

    @abstractmethod
    def refusal(self, spec: TargetSpec) -> str | None:
        """Why a run on this platform cannot run target `spec` (the plan refuses it with this), else None."""

    @abstractmethod
    def write_modes(self, spec: TargetSpec) -> frozenset[WriteMode]:
        """The config write modes that reach target `spec` here (a storm's `write_mode` must be one)."""

    @abstractmethod
    def shown_placeholders(self, spec: TargetSpec) -> dict[str, str]:
        """What the dry run shows for each placeholder of `spec`'s command: what the platform puts there."""

    @abstractmethod
    def shown_config_source(self, spec: TargetSpec) -> str:
        """How `spec`'s config file reaches it, for the dry run ("" when it is simply a file beside it)."""

    @abstractmethod
    def etcd_placement(self) -> str:
        """Where the etcd cluster the suite starts runs, for the dry run."""

    def shown_deployed(self, spec: TargetSpec) -> list[str]:
        """The dry run's lines for a service already deployed (only a cluster platform runs one)."""
        return []

    def link_refusal(self, request: LinkRequest, spec: TargetSpec | None) -> str | None:
        """Why a run here cannot route `request` (of target `spec`, None for etcd's own links) through chaosproxy
        from the start, so a `network` fault could act on it (the plan refuses the fault with this), else None."""
        return (f"the {self.name} platform routes no links through chaosproxy; run this scenario with "
                "--platform local")

    def link_placement(self) -> str:
        """Where the chaosproxy holding a run's links runs here, for the dry run."""
        return "no chaosproxy (this platform routes no links)"

    def external_etcd_refusal(self, targets: tuple[TargetSpec, ...], tls: bool) -> str | None:
        """Why targets here cannot reach the team's etcd (over TLS when `tls`), else None."""
        return None
