"""Identifying processes across sessions by PID plus start time, so a reused PID is not mistaken."""

from __future__ import annotations

from pathlib import Path


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def alive(pid: int) -> bool:
    """True for a running process; False for a missing one or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def same_process(pid: int, recorded_start: str | None) -> bool:
    """True when `pid` is alive and is the very process that was recorded with `recorded_start`."""
    return recorded_start is not None and alive(pid) and start_time(pid) == recorded_start
