"""The one place a platform name is checked and turned into a started Platform.

The CLI's choices, the runner, the plan and the pytest plugin all go through here, so a platform
is added (or refused) in one spot. Importing this module is cheap: a platform's kind is imported when a
run plans on it, its Platform only when one is opened. A platform that needs an optional part of gochaos
(chaos.extras) is refused here, at plan time, when that part is not installed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from chaos import extras, state
from chaos.errors import UsageError

if TYPE_CHECKING:
    from chaos.build import Binaries
    from chaos.platform.base import Platform
    from chaos.platform.kinds import PlatformKind
    from chaos.platform.kubernetes.cluster.cluster import ClusterAccess, KubernetesOptions
    from chaos.timeline import Timeline

#: Every platform by name, with the module whose `KIND` is the platform as the plan sees it
#: (chaos.platform.kinds). Loaded by name when a run plans on it: a kind brings the target models, which
#: `gochaos version`, `--help` or `list` need not import.
KIND_MODULES: dict[str, str] = {"local": "chaos.platform.local.planning",
                                "kubernetes": "chaos.platform.kubernetes.planning"}
#: Platforms that need an extra (chaos.extras), and why, as the one-line refusal says it.
KIND_EXTRAS: dict[str, tuple[str, str]] = {"kubernetes": ("kubernetes", "this scenario runs on kubernetes")}
#: The CLI's choices.
PLATFORMS = tuple(KIND_MODULES)
#: Per platform, the modules that register with the state ledger the kinds of resource its runs hold
#: (and, for Kubernetes, how to judge a run in another pod). Loaded by name, as the Kubernetes ones
#: bring the cluster client: only a reclaim needs them all.
RECLAIMERS: dict[str, tuple[str, ...]] = {
    "local": ("chaos.cleanup", "chaos.platform.local.netfilter", "chaos.platform.local.cgroups"),
    "kubernetes": ("chaos.platform.kubernetes.cluster.kind", "chaos.platform.kubernetes.cluster.namespace_reclaim",
                   "chaos.platform.kubernetes.deployed.deployed_reclaim",
                   "chaos.platform.kubernetes.cluster.pod_liveness"),
}


def platform_kind(name: str) -> PlatformKind:
    """The platform called `name`; a UsageError listing the choices otherwise, MissingExtra naming the extra
    to install when the platform needs one that is not."""
    if name not in KIND_MODULES:
        raise UsageError(f"unknown platform {name!r}; choose from {', '.join(PLATFORMS)}")
    if name in KIND_EXTRAS:
        extras.require(*KIND_EXTRAS[name])
    kind: PlatformKind = importlib.import_module(KIND_MODULES[name]).KIND
    return kind


def reclaim_dead_runs(*, dry_run: bool = False,
                      report: Callable[[str], None] | None = None) -> list[state.Reclaimed]:
    """Undo what dead gochaos runs left behind on every platform (state.reclaim, with every kind registered).

    Registering needs no extra; undoing does: without it, what a run left there is reported as not cleaned up
    (naming the extra) and stays in the ledger for an install that has it.
    """
    for modules in RECLAIMERS.values():
        for module in modules:
            importlib.import_module(module)
    return state.reclaim(dry_run=dry_run, report=report)


def open_platform(kind: PlatformKind, *, timeline: Timeline, binaries: Binaries, run_dir: Path | None,
                  stack: ExitStack, keep: bool = False, kube: KubernetesOptions | None = None,
                  cluster: ClusterAccess | Callable[[], ClusterAccess] | None = None) -> Platform:
    """The platform of `kind`, registered on `stack` so everything it started goes when the stack closes.

    `keep` keeps the run's artefacts (target logs, etcd data) after it. On Kubernetes, `cluster`
    is a cluster the caller opened for several runs, or a function giving one (asked only when the
    platform is Kubernetes); without one, a cluster is opened (a kind cluster created) from `kube`
    for this run alone.
    """
    return kind.open(timeline=timeline, binaries=binaries, run_dir=run_dir, stack=stack, keep=keep, kube=kube,
                     cluster=cluster)
