"""The process table as /proc shows it: what clean-up, `gochaos init` and the tests read of live processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ProcessStat:
    """One process's line of /proc/PID/stat, the fields the suite reads."""

    pid: int
    command: str
    #: R, S, D, Z (a zombie: exited, not yet reaped), T, ...
    state: str
    ppid: int
    pgid: int


def processes() -> Iterator[ProcessStat]:
    """Every process there is now (one that exits while it is read is left out)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ')'
        fields = stat[stat.rindex(")") + 2:].split()
        yield ProcessStat(int(entry.name), stat[stat.index("(") + 1:stat.rindex(")")], fields[0], int(fields[1]),
                          int(fields[2]))


def group_members(pgid: int) -> list[int]:
    """The pids of process group `pgid` (zombies included: the group is not gone until they are reaped)."""
    return sorted(process.pid for process in processes() if process.pgid == pgid)
