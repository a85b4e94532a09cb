"""One place that turns a platform name into a started Platform, closed by the caller's ExitStack."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.build import Binaries
from chaos.errors import UsageError
from chaos.platform.base import Platform
from chaos.timeline import Timeline

if TYPE_CHECKING:
    from chaos.platform.kubernetes.cluster import ClusterAccess, KubernetesOptions

PLATFORMS = ("local", "kubernetes")


def open_platform(name: str, *, timeline: Timeline, binaries: Binaries, run_dir: Path | None, stack: ExitStack,
                  kube: KubernetesOptions | None = None, cluster: ClusterAccess | None = None) -> Platform:
    """The platform `name`, registered on `stack` so everything it started goes when the stack closes.

    On Kubernetes, `cluster` is a cluster the caller opened for several runs; without one, a
    cluster is opened (a kind cluster created) from `kube` for this run alone.
    """
    if name == "local":
        from chaos.platform.local.platform import LocalPlatform

        local = LocalPlatform(timeline=timeline, binaries=binaries, run_dir=run_dir)
        stack.callback(local.close)
        return local
    if name == "kubernetes":
        from chaos.platform.kubernetes.cluster import KubernetesOptions, connect
        from chaos.platform.kubernetes.platform import KubernetesPlatform

        if cluster is None:
            cluster = connect(kube or KubernetesOptions())
            stack.callback(cluster.close)
        kube_platform = KubernetesPlatform(timeline=timeline, cluster=cluster, binaries=binaries, run_dir=run_dir)
        stack.callback(kube_platform.close)
        return kube_platform
    raise UsageError(f"unknown platform {name!r}; choose from {', '.join(PLATFORMS)}")
