"""What every benchmark JSON records about where and how it ran."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any


def machine_info() -> dict[str, Any]:
    model = ""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        cpuinfo = ""
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "load_avg_1m": os.getloadavg()[0],
    }


def command_line() -> str:
    return " ".join([os.path.relpath(sys.argv[0]), *sys.argv[1:]])
