"""Squeeze one process's memory with a cgroup of its own, and lift the squeeze again.

Works on cgroup v1 (the memory controller's hierarchy) and v2 (the unified hierarchy, with the
memory controller enabled for children). The new group is created under the process's current
group, so the suite never escapes limits it already runs under; lifting moves the process back and
removes the group. Groups are named `gochaos-<pid>-<seq>` so leftovers can be found after a crash.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

from chaos.errors import InjectionFailed, RevertFailed

ROOT = Path("/sys/fs/cgroup")
PREFIX = "gochaos-"
_seq = itertools.count(1)


def version() -> int | None:
    """2 for the unified hierarchy, 1 for a v1 memory controller, None when neither is usable."""
    if (ROOT / "cgroup.controllers").is_file():
        return 2
    if (ROOT / "memory").is_dir():
        return 1
    return None


def _current_group(pid: int, v: int) -> Path:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        hierarchy, controllers, path = line.split(":", 2)
        if v == 2 and hierarchy == "0":
            return ROOT / path.lstrip("/")
        if v == 1 and "memory" in controllers.split(","):
            return ROOT / "memory" / path.lstrip("/")
    raise InjectionFailed(f"pid {pid} has no memory cgroup (cgroup v{v})")


@dataclass
class MemoryLimit:
    """A memory limit on one process, applied by moving it into a fresh child cgroup."""

    pid: int
    limit_bytes: int
    group: Path | None = None
    _origin: Path | None = field(default=None, repr=False)

    def apply(self) -> None:
        v = version()
        if v is None:
            raise InjectionFailed("no cgroup memory controller here (neither v1 nor v2 mounted)")
        if os.geteuid() != 0:
            raise InjectionFailed("squeezing a memory cgroup needs root")
        origin = _current_group(self.pid, v)
        group = origin / f"{PREFIX}{os.getpid()}-{next(_seq)}"
        try:
            group.mkdir()
            limit_file = "memory.max" if v == 2 else "memory.limit_in_bytes"
            (group / limit_file).write_text(str(self.limit_bytes))
            (group / "cgroup.procs").write_text(str(self.pid))
        except OSError as e:
            _remove_quietly(group)
            raise InjectionFailed(f"cgroup v{v} memory limit on pid {self.pid} at {group}: {e.strerror}") from e
        self.group, self._origin = group, origin

    def remove(self) -> None:
        if self.group is None:
            return
        group, origin = self.group, self._origin
        self.group = None
        try:
            if origin is not None and Path(f"/proc/{self.pid}").exists():
                (origin / "cgroup.procs").write_text(str(self.pid))
        except OSError:
            pass  # the process died (perhaps OOM-killed): nothing to move back
        if not _remove_quietly(group):
            raise RevertFailed(f"could not remove cgroup {group}; remove it by hand: rmdir {group}")


def _remove_quietly(group: Path) -> bool:
    try:
        group.rmdir()
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


def leftover_groups() -> list[Path]:
    """gochaos-* memory cgroups anywhere under the hierarchy (for crash clean-up)."""
    v = version()
    if v is None:
        return []
    base = ROOT if v == 2 else ROOT / "memory"
    return [p for p in base.rglob(f"{PREFIX}*") if p.is_dir()]
