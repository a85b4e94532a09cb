"""The gochaos runner image, for scheduled runs inside a cluster (manifests/runner), built with no base image.

Layer 1 is a Debian root filesystem with Python from debootstrap (cached like the node's). Layer 2 is
/opt/gochaos: a venv made with that Python inside a copy of the tree (chroot), into which this
checkout's wheel and its dependencies are installed from wheels built on this machine first (pip's
own configuration picks the index), so nothing inside the chroot reaches a network. The image runs
`gochaos` as an unprivileged user (uid 65532) with HOME=/tmp; its tag carries a hash of the wheel's
inputs, so a changed checkout gives a new image and an unchanged one is a single `docker image inspect`.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

from .artefacts import input_key, tree_files
from .commands import run
from .debian_rootfs import RECIPE_VERSION, build_rootfs, debian_mirror
from .docker_engine import DockerEngine
from .errors import BuildFailed, PrerequisiteMissing
from .image_archive import DEFAULT_PATH, ImageConfig, existing_layer
from .local_images import ensure_loaded, load_archive
from .locations import CacheLayout, repo_root
from .progress import Progress, quiet, step
from .versions import DEBIAN_SUITE, RUNNER_PACKAGES

IMAGE_REPOSITORY = "gochaos/runner"
RUNNER_UID = 65532
VENV = "/opt/gochaos"
#: The extras the runner installs (pyproject.toml): it runs on a cluster, and any scenario's load may be gRPC.
RUNNER_EXTRAS = "kubernetes,grpc"
#: What goes into the wheel (setup.py bundles go_targets and manifests) and so into the image.
_WHEEL_INPUTS = ("chaos", "go_targets", "manifests", "pyproject.toml", "setup.py", "MANIFEST.in")


def runner_image_tag() -> str:
    """The tag the runner image for this checkout has (or will have once built)."""
    root = repo_root()
    recipe = {"suite": DEBIAN_SUITE, "packages": RUNNER_PACKAGES, "mirror": debian_mirror(),
              "rootfs_recipe": RECIPE_VERSION, "python": sys.version_info[:2], "uid": RUNNER_UID}
    files: list[Path] = [Path(__file__)]
    for name in _WHEEL_INPUTS:
        path = root / name
        files += tree_files(path) if path.is_dir() else [path]
    return f"{IMAGE_REPOSITORY}:{input_key(recipe, _relative(files, root), length=12)}"


def _relative(files: Iterable[Path], root: Path) -> list[Path]:
    """The inputs without build outputs a checkout may hold (*.egg-info, compiled files)."""
    return [f for f in files if not any(part.endswith(".egg-info") for part in f.relative_to(root).parts)
            and f.suffix not in (".pyc", ".so")]


def ensure_runner_image(engine: DockerEngine, *, cache: CacheLayout | None = None,
                        progress: Progress = quiet) -> str:
    """Return the runner image tag, building and loading the image into `engine` first if it lacks it."""
    cache = cache or CacheLayout.default()
    tag = runner_image_tag()
    ensure_loaded(engine, tag, lambda: _build(engine, cache, tag, progress),
                  lock=cache.work / f".runner-{tag.rsplit(':', 1)[1]}.lock", what="the gochaos runner image",
                  progress=progress)
    return tag


def _build(engine: DockerEngine, cache: CacheLayout, tag: str, progress: Progress) -> None:
    if shutil.which("chroot") is None:
        raise PrerequisiteMissing("chroot (coreutils) is not on PATH: it installs the suite into the image's tree")
    rootfs = build_rootfs(cache, packages=RUNNER_PACKAGES, purpose="the gochaos runner", progress=progress)
    work = cache.work / f"runner-{tag.rsplit(':', 1)[1]}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        wheels = work / "tree" / "tmp" / "wheels"
        with step(progress, "copying the runner's root filesystem"):
            run(["cp", "-a", rootfs.tree, work / "tree"], error=BuildFailed, what="copy of the root filesystem",
                hint="check free disk space in the cache", timeout=600)
        with step(progress, "building gochaos's wheel and its dependencies' wheels"):
            run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", wheels,
                 f"{repo_root()}[{RUNNER_EXTRAS}]"],
                error=BuildFailed, what="pip wheel of gochaos",
                hint="check that pip can reach its configured index (pip config list)", timeout=1800,
                progress=progress)
        with step(progress, f"installing gochaos into {VENV} (chroot, offline)"):
            tree = work / "tree"
            run(["chroot", tree, "/usr/bin/python3", "-m", "venv", VENV], error=BuildFailed,
                what="python3 -m venv in the runner tree", hint="check the tree has python3-venv", timeout=300)
            run(["chroot", tree, f"{VENV}/bin/pip", "install", "--quiet", "--no-index", "--no-cache-dir",
                 "--find-links", "/tmp/wheels", f"gochaos[{RUNNER_EXTRAS}]"],
                error=BuildFailed, what="pip install gochaos in the runner tree",
                hint="a dependency's wheel is missing from the host-built set", timeout=900, progress=progress)
            run(["chroot", tree, f"{VENV}/bin/gochaos", "--help"], error=BuildFailed,
                what="gochaos --help in the runner tree", hint="the installed suite does not start", timeout=120)
        with step(progress, "packing the suite layer"):
            run(["tar", "--numeric-owner", "--owner=0", "--group=0", "--mtime=@1700000000", "-C", tree,
                 "-cf", work / "suite.tar", "./opt"],
                error=BuildFailed, what="tar of /opt/gochaos", hint="check free disk space", timeout=600)
            suite = existing_layer(work / "suite.tar")
        with step(progress, "hashing the root filesystem layer"):
            base = existing_layer(rootfs.layer)
        config = ImageConfig(entrypoint=[f"{VENV}/bin/gochaos"], cmd=["--help"],
                             env=[f"PATH={VENV}/bin:" + DEFAULT_PATH.removeprefix("PATH="), "HOME=/tmp",
                                  "PYTHONUNBUFFERED=1"],
                             user=f"{RUNNER_UID}:{RUNNER_UID}", labels={"org.gochaos.runner": "1"})

        with step(progress, "docker load of the runner image"):
            load_archive(engine, tag=tag, layers=[base, suite], config=config, timeout=900, progress=progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
