"""gochaos runs on Linux only: process groups, /proc, cgroups, netfilter and the signals it relies on."""

from __future__ import annotations

import sys

from chaos.errors import UsageError

SUPPORTED = "linux"


def require_linux(platform: str | None = None) -> None:
    """UsageError (exit 2) in one line on any other OS, before anything is started."""
    running_on = platform or sys.platform
    if not running_on.startswith(SUPPORTED):
        raise UsageError(f"gochaos runs on Linux only (this is {running_on}); run it on a Linux machine, "
                         "VM or container")
