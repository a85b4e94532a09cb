"""Squeeze one process's memory or CPU with cgroups of its own, and lift the squeeze again.

Works on cgroup v1 (separate memory and cpu hierarchies) and v2 (the unified hierarchy). The new
group is created under the process's current group, so the suite never escapes limits it already
runs under; lifting moves the process back and removes the group. A CPU limit is a CFS quota: the
process runs `millicores/1000` of one CPU per 100 ms period and is throttled for the rest, exactly
what a Kubernetes CPU limit does. Groups are named `gochaos-<owner pid>.<owner start>-<seq>` and
recorded in the state file before they are made, so a later run removes them after a crash, but
only when the suite process that made them is dead.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from chaos import state
from chaos.errors import InjectionFailed, RevertFailed

ROOT = Path("/sys/fs/cgroup")
PREFIX = "gochaos-"
PERIOD_US = 100_000
_seq = itertools.count(1)


def version() -> int | None:
    """2 for the unified hierarchy, 1 for v1 controllers, None when neither is usable."""
    if (ROOT / "cgroup.controllers").is_file():
        return 2
    if (ROOT / "memory").is_dir() or (ROOT / "cpu").is_dir():
        return 1
    return None


def _v1_mount(controller: str) -> Path:
    for candidate in (controller, "cpu,cpuacct" if controller == "cpu" else controller):
        if (ROOT / candidate).is_dir():
            return ROOT / candidate
    raise InjectionFailed(f"no cgroup v1 {controller} controller mounted under {ROOT}")


def _current_group(pid: int, controller: str | None) -> Path:
    """The process's group in the v1 hierarchy of `controller`, or in v2 when it is None."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        hierarchy, controllers, path = line.split(":", 2)
        if controller is None and hierarchy == "0":
            return ROOT / path.lstrip("/")
        if controller is not None and controller in controllers.split(","):
            return _v1_mount(controller) / path.lstrip("/")
    raise InjectionFailed(f"pid {pid} has no {controller or 'unified'} cgroup")


@dataclass
class CgroupLimit:
    """Memory and/or CPU limits on one process, applied by moving it into fresh child groups."""

    pid: int
    memory_bytes: int | None = None
    cpu_millicores: int | None = None
    groups: list[tuple[Path, Path]] = field(default_factory=list)  # (group, where the pid came from)

    def apply(self) -> None:
        v = version()
        if v is None:
            raise InjectionFailed("no cgroup controllers here (neither v1 nor v2 mounted)")
        if os.geteuid() != 0:
            raise InjectionFailed("squeezing a process with cgroups needs root")
        if self.memory_bytes is None and self.cpu_millicores is None:
            raise InjectionFailed("a cgroup limit needs a memory limit, a CPU limit, or both")
        settings: dict[str, str] = {}
        quota = str((self.cpu_millicores or 0) * PERIOD_US // 1000)
        try:
            if v == 2:
                if self.memory_bytes is not None:
                    settings["memory.max"] = str(self.memory_bytes)
                if self.cpu_millicores is not None:
                    settings["cpu.max"] = f"{quota} {PERIOD_US}"
                self._enter(_current_group(self.pid, None), settings, v)
            else:
                if self.memory_bytes is not None:
                    self._enter(_current_group(self.pid, "memory"),
                                {"memory.limit_in_bytes": str(self.memory_bytes)}, v)
                if self.cpu_millicores is not None:
                    self._enter(_current_group(self.pid, "cpu"),
                                {"cpu.cfs_period_us": str(PERIOD_US), "cpu.cfs_quota_us": quota}, v)
        except InjectionFailed:
            self.remove()
            raise

    def _enter(self, origin: Path, settings: dict[str, str], v: int) -> None:
        group = origin / f"{PREFIX}{state.owner_tag()}-{next(_seq)}"
        try:
            if v == 2:
                wanted = {name.split(".")[0] for name in settings}
                (origin / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in sorted(wanted)))
            state.hold("cgroup", str(group), f"cgroup {group}")
            group.mkdir()
            self.groups.append((group, origin))
            for name, value in settings.items():
                (group / name).write_text(value)
            (group / "cgroup.procs").write_text(str(self.pid))
        except OSError as e:
            if not group.exists():
                state.release("cgroup", str(group))
            raise InjectionFailed(f"cgroup v{v} limit {settings} on pid {self.pid} at {group}: "
                                  f"{e.strerror}") from e

    def throttled_periods(self) -> int | None:
        """CFS periods in which the process was throttled so far (None without a CPU limit)."""
        for group, _ in self.groups:
            stat = group / "cpu.stat"
            if stat.is_file() and self.cpu_millicores is not None:
                for line in stat.read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "nr_throttled":
                        return int(value)
        return None

    def remove(self) -> None:
        """Move the process back and remove every group; RevertFailed if a group stays."""
        stuck = []
        while self.groups:
            group, origin = self.groups.pop()
            try:
                if Path(f"/proc/{self.pid}").exists():
                    (origin / "cgroup.procs").write_text(str(self.pid))
            except OSError:
                pass  # the process died (perhaps OOM-killed): nothing to move back
            if _remove_quietly(group):
                state.release("cgroup", str(group))
            else:
                stuck.append(str(group))
        if stuck:
            raise RevertFailed(f"could not remove cgroup(s) {stuck}; remove them by hand with rmdir, "
                               "or run `gochaos cleanup`")


def _remove_quietly(group: Path) -> bool:
    """rmdir the group; True when it is gone."""
    try:
        group.rmdir()
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


def leftover_groups() -> list[Path]:
    """gochaos-* cgroups anywhere under the hierarchies (for crash clean-up)."""
    v = version()
    if v is None:
        return []
    bases = [ROOT] if v == 2 else [p for p in ROOT.iterdir() if p.is_dir() and not p.is_symlink()]
    return [p for base in bases for p in base.rglob(f"{PREFIX}*") if p.is_dir()]


_NAME = re.compile(rf"{PREFIX}(\d+\.\d+)-\d+")


def _scan() -> list[tuple[str, state.Holding]]:
    """gochaos cgroups by owner tag (for groups a dead run made but never recorded)."""
    found = []
    for group in leftover_groups():
        match = _NAME.fullmatch(group.name)
        if match is not None:
            found.append((match[1], state.Holding("cgroup", str(group), f"cgroup {group}", {})))
    return found


@state.kind("cgroup", order=40, scan=_scan)
def _reclaim(holding: state.Holding) -> str:
    """Move any process left inside back to the parent group, then remove the group."""
    group = Path(holding.key)
    if not group.is_dir():
        return "already gone"
    procs = group / "cgroup.procs"
    for pid in (procs.read_text().split() if procs.is_file() else []):
        with contextlib.suppress(OSError):  # it exited meanwhile
            (group.parent / "cgroup.procs").write_text(pid)
    group.rmdir()
    return "removed"
