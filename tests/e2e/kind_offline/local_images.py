"""Workload images made on this machine and loaded into a kind cluster (imagePullPolicy: Never).

Nothing can be pulled, so an e2e workload is a static Go binary (CGO_ENABLED=0) in a FROM-scratch
image: either through a Dockerfile (`docker build`, the legacy builder, which needs no BuildKit
images) or, for a lone binary, written directly as an image archive and `docker load`ed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .artefacts import exclusive
from .commands import run
from .docker_engine import DockerEngine
from .errors import BuildFailed, ClusterError, PrerequisiteMissing
from .image_archive import ImageConfig, Layer, LayerWriter, write_archive
from .progress import Progress, quiet, step


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


def image_exists(engine: DockerEngine, tag: str) -> bool:
    result = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", tag], env=engine.env,
                            capture_output=True, text=True, timeout=60, check=False)
    return result.returncode == 0


def ensure_loaded(engine: DockerEngine, tag: str, build: Callable[[], None], *, lock: Path, what: str,
                  progress: Progress = quiet) -> bool:
    """Make sure the engine has `tag`, running `build` (which loads it) under `lock` if not; True if it built."""
    if image_exists(engine, tag):
        return False
    with exclusive(lock, what=f"{what} {tag}"):
        if image_exists(engine, tag):  # another session built it while we waited
            return False
        with step(progress, f"building {what} {tag}"):
            build()
    return True


def load_archive(engine: DockerEngine, *, tag: str, layers: list[Layer], config: ImageConfig, timeout: float = 300,
                 progress: Progress = quiet) -> str:
    """`docker load` of image `tag` written from `layers` and `config` on the fly; BuildFailed unless it is there."""

    def stream(out: IO[bytes]) -> None:
        write_archive(out, tags=[tag], layers=layers, config=config)

    run(["docker", "load"], error=BuildFailed, what=f"docker load of {tag}",
        hint="check the engine's log and free disk space in its data-root", timeout=timeout, env=engine.env,
        stdin=stream, progress=progress)
    if not image_exists(engine, tag):
        raise BuildFailed(f"docker load finished but {tag} is not in the engine; check the engine's log")
    return tag


def load_binary_image(engine: DockerEngine, *, binary: Path, tag: str, work: Path) -> str:
    """Make `tag` a FROM-scratch image whose entrypoint is `binary` (as /<name>), in the engine."""
    work.mkdir(parents=True, exist_ok=True)
    layer = LayerWriter(work / f"{binary.name}.layer.tar")
    layer.file(binary.name, binary, 0o755)
    built = layer.close()
    try:
        return load_archive(engine, tag=tag, layers=[built], config=ImageConfig(entrypoint=[f"/{binary.name}"]))
    finally:
        built.path.unlink(missing_ok=True)


def kind_load(engine: DockerEngine, *, kind: Path, cluster: str, tag: str) -> None:
    """Copy `tag` from the engine into the cluster's containerd (`kind load docker-image`)."""
    run([kind, "load", "docker-image", tag, "--name", cluster], error=ClusterError,
        what=f"kind load docker-image {tag}", hint="check that the image exists: docker image inspect " + tag,
        timeout=300, env={**engine.env, "KIND_EXPERIMENTAL_PROVIDER": "docker"})
