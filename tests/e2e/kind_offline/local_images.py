"""Workload images made on this machine and loaded into a kind cluster (imagePullPolicy: Never).

Nothing can be pulled, so an e2e workload is a static Go binary (CGO_ENABLED=0) in a FROM-scratch
image: either through a Dockerfile (`docker build`, the legacy builder, which needs no BuildKit
images) or, for a lone binary, written directly as an image archive and `docker load`ed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import IO

from .commands import run
from .docker_engine import DockerEngine
from .errors import BuildFailed, ClusterError, PrerequisiteMissing
from .image_archive import ImageConfig, LayerWriter, write_archive


def build_static_go_binary(*, module_dir: Path, package: str, out: Path) -> Path:
    """`go build` one main package with the host's Go, static and stripped, into `out`."""
    go = shutil.which("go")
    if go is None:
        raise PrerequisiteMissing("the host's Go toolchain is not on PATH: install Go to build e2e workload images")
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"}
    run([go, "build", "-trimpath", "-ldflags=-s -w", "-o", out, package], error=BuildFailed,
        what=f"go build {package}", hint=f"run the same go build in {module_dir} to see why", timeout=900,
        env=env, cwd=module_dir)
    return out


def docker_build(engine: DockerEngine, *, context: Path, tag: str, build_args: dict[str, str] | None = None) -> str:
    """Build `context`'s Dockerfile into `tag` with the legacy builder (it pulls nothing for FROM scratch)."""
    argv: list[str | Path] = ["docker", "build", "--quiet", "--tag", tag]
    for key, value in (build_args or {}).items():
        argv += ["--build-arg", f"{key}={value}"]
    argv.append(context)
    run(argv, error=BuildFailed, what=f"docker build {tag}", hint=f"check {context / 'Dockerfile'}", timeout=300,
        env={**engine.env, "DOCKER_BUILDKIT": "0"})
    return tag


def load_binary_image(engine: DockerEngine, *, binary: Path, tag: str, work: Path) -> str:
    """Make `tag` a FROM-scratch image whose entrypoint is `binary` (as /<name>), in the engine."""
    work.mkdir(parents=True, exist_ok=True)
    layer = LayerWriter(work / f"{binary.name}.layer.tar")
    layer.file(binary.name, binary, 0o755)
    built = layer.close()

    def stream(out: IO[bytes]) -> None:
        write_archive(out, tags=[tag], layers=[built], config=ImageConfig(entrypoint=[f"/{binary.name}"]))

    try:
        run(["docker", "load"], error=BuildFailed, what=f"docker load {tag}", hint="check the engine's log",
            timeout=300, env=engine.env, stdin=stream)
    finally:
        built.path.unlink(missing_ok=True)
    return tag


def kind_load(engine: DockerEngine, *, kind: Path, cluster: str, tag: str) -> None:
    """Copy `tag` from the engine into the cluster's containerd (`kind load docker-image`)."""
    run([kind, "load", "docker-image", tag, "--name", cluster], error=ClusterError,
        what=f"kind load docker-image {tag}", hint="check that the image exists: docker image inspect " + tag,
        timeout=300, env={**engine.env, "KIND_EXPERIMENTAL_PROVIDER": "docker"})
