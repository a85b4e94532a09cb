"""The user-service, greeter and hunted scenarios are templates (their tests fill in the binary paths),
not gates. `process_tree` reads /proc for the processes a test's `gochaos` started."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.procfs import processes

collect_ignore_glob = ["user_service/*", "greeter/*", "hunted/*", "source_build/*"]


class ProcessTree:
    """The live descendants of a process, read from /proc, and whether one of them still runs."""

    @staticmethod
    def descendants(pid: int) -> dict[int, str]:
        """Every live descendant of `pid` (any session or process group), pid -> command."""
        live = [p for p in processes() if p.state != "Z"]
        parents = {p.pid: p.ppid for p in live}
        names = {p.pid: p.command for p in live}
        found: dict[int, str] = {}
        frontier = [pid]
        while frontier:
            parent = frontier.pop()
            for child, ppid in parents.items():
                if ppid == parent and child not in found:
                    found[child] = names[child]
                    frontier.append(child)
        return found

    @staticmethod
    def alive(pid: int) -> bool:
        """Does `pid` still run (a zombie does not)?"""
        try:
            return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
        except (OSError, IndexError):
            return False


@pytest.fixture
def process_tree() -> ProcessTree:
    return ProcessTree()
