"""The one place a platform name is checked and turned into a started Platform.

The CLI's choices, the runner, the plan and the pytest plugin all go through here, so a platform
is added (or refused) in one spot. Importing this module is cheap: the platforms themselves are
imported only when one is opened.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.errors import UsageError

if TYPE_CHECKING:
    from chaos.build import Binaries
    from chaos.platform.base import Platform
    from chaos.platform.kubernetes.cluster import ClusterAccess, KubernetesOptions
    from chaos.timeline import Timeline

PLATFORMS = ("local", "kubernetes")


def check_platform(name: str) -> str:
    """`name` when it is a platform; a UsageError listing the choices otherwise."""
    if name not in PLATFORMS:
        raise UsageError(f"unknown platform {name!r}; choose from {', '.join(PLATFORMS)}")
    return name


def open_platform(name: str, *, timeline: Timeline, binaries: Binaries, run_dir: Path | None,
                  stack: ExitStack, keep: bool = False, kube: KubernetesOptions | None = None,
                  cluster: ClusterAccess | Callable[[], ClusterAccess] | None = None) -> Platform:
    """The platform `name`, registered on `stack` so everything it started goes when the stack closes.

    `keep` keeps the run's artefacts (target logs, etcd data) after it. On Kubernetes, `cluster`
    is a cluster the caller opened for several runs, or a function giving one (asked only when the
    platform is Kubernetes); without one, a cluster is opened (a kind cluster created) from `kube`
    for this run alone.
    """
    if check_platform(name) == "local":
        from chaos.platform.local.platform import LocalPlatform

        local = LocalPlatform(timeline=timeline, binaries=binaries, run_dir=run_dir, keep=keep)
        stack.callback(local.close)
        return local
    # kubernetes, the only other one
    from chaos.platform.kubernetes.cluster import KubernetesOptions, connect
    from chaos.platform.kubernetes.platform import KubernetesPlatform

    if callable(cluster):
        cluster = cluster()
    if cluster is None:
        cluster = connect(kube or KubernetesOptions())
        stack.callback(cluster.close)
    kube_platform = KubernetesPlatform(timeline=timeline, cluster=cluster, binaries=binaries,
                                       run_dir=run_dir, keep=keep)
    stack.callback(kube_platform.close)
    return kube_platform
