"""The pod sandbox ("pause") binary: a small C program built static, so its image is FROM scratch."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .artefacts import ensure, input_key
from .commands import run
from .debian_packages import ensure_packages
from .errors import BuildFailed
from .locations import CacheLayout
from .progress import Progress, quiet, step
from .versions import PAUSE_VERSION

SOURCE = Path(__file__).parent / "pause" / "pause.c"


def build_pause(cache: CacheLayout, *, progress: Progress = quiet) -> Path:
    """Return the static pause binary, compiling it with gcc when its source or gcc changed."""
    if shutil.which("gcc") is None:
        ensure_packages(["gcc", "libc6-dev"], why="building the pause binary", progress=progress)
    gcc_version = subprocess.run(["gcc", "--version"], capture_output=True, text=True, check=False).stdout
    key = input_key({"pause": PAUSE_VERSION, "gcc": gcc_version}, [SOURCE])
    out = cache.binaries / f"pause-{key}" / "pause"

    def compile_into(tmp: Path) -> None:
        tmp.mkdir(parents=True)
        with step(progress, "gcc -static pause.c"):
            run(
                ["gcc", "-static", "-Os", "-s", "-Wall", "-Werror", f'-DPAUSE_VERSION="{PAUSE_VERSION}"',
                 "-o", tmp / "pause", SOURCE],
                error=BuildFailed, what="gcc pause.c", hint="check that gcc and libc6-dev (static libc) are installed",
                timeout=120,
            )

    return ensure(out.parent, compile_into, what="pause binary") / "pause"
